import hashlib

import pytest

from alignsql.errors import AlignSQLError
from alignsql.models.gguf import assemble


def _parts(tmp_path, payload: bytes, n: int = 3):
    size = len(payload) // n + 1
    parts = []
    for i in range(n):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(payload[i * size:(i + 1) * size])
        parts.append(p)
    return parts


def test_assembly_in_order_and_verified(tmp_path) -> None:
    payload = b"GGUF" + bytes(range(256)) * 40
    digest = hashlib.sha256(payload).hexdigest()
    out = assemble(_parts(tmp_path, payload), tmp_path / "m" / "model.gguf", digest, len(payload))
    assert out.read_bytes() == payload


def test_truncated_or_corrupt_or_not_gguf(tmp_path) -> None:
    payload = b"GGUF" + b"x" * 1000
    digest = hashlib.sha256(payload).hexdigest()
    parts = _parts(tmp_path, payload)
    with pytest.raises(AlignSQLError, match="expected 1,004"):
        assemble(parts[:2], tmp_path / "a.gguf", digest, len(payload))
    parts[1].write_bytes(b"y" * parts[1].stat().st_size)
    with pytest.raises(AlignSQLError, match="sha256"):
        assemble(parts, tmp_path / "b.gguf", digest, len(payload))
    assert not (tmp_path / "b.gguf").exists() and not (tmp_path / "b.partial").exists()
    with pytest.raises(AlignSQLError, match="not a GGUF"):
        assemble([parts[2]], tmp_path / "c.gguf", digest, None)


def test_unknown_model_and_missing_package() -> None:
    from alignsql.models.gguf import part_paths
    from alignsql.models.loading import resolve
    from alignsql.models.registry import ModelSpec
    with pytest.raises(AlignSQLError, match="unknown model"):
        resolve("gpt-5")
    spec = ModelSpec("x", "", ("no_such_pkg_abc",), ("data/a.bin",), "0", None, "pip install no-such-pkg-abc")
    with pytest.raises(AlignSQLError, match="pip install no-such-pkg-abc"):
        part_paths(spec)
