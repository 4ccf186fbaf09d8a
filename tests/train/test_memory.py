import platform

from alignsql.train.memory import pin_mmap_threshold


def test_pin_mmap_threshold_on_glibc() -> None:
    """glibc accepts the setting (mallopt returns 1); elsewhere the call is a harmless False."""
    ok = pin_mmap_threshold()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert ok is True
    else:
        assert ok is False


_CHILD = ("import json, sys; sys.path.insert(0, sys.argv[1]);"
          "from alignsql.train.callbacks import peak_rss_mb; print(json.dumps(peak_rss_mb()))")


def test_peak_rss_is_the_process_own_not_its_forking_parents() -> None:
    """A parent holding 600 MB forks and execs a child; the child's logged peak is its own
    (an interpreter plus transformers, well under 600 MB), not the parent's copied pages."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    held = bytearray(b"\1" * (600 * 2**20))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(Path(__file__).parents[2])],
                         capture_output=True, text=True, check=True, timeout=120)
    assert len(held) and 0 < json.loads(out.stdout.strip().splitlines()[-1]) < 600
