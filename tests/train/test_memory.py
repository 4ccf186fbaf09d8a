import platform

from alignsql.train.memory import pin_mmap_threshold


def test_pin_mmap_threshold_on_glibc() -> None:
    """glibc accepts the setting (mallopt returns 1); elsewhere the call is a harmless False."""
    ok = pin_mmap_threshold()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert ok is True
    else:
        assert ok is False
