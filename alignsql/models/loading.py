"""Load a causal LM by registry name, local directory or Hugging Face id, on the best device."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignsql.errors import AlignSQLError
from alignsql.models.gguf import convert
from alignsql.models.registry import MODELS

DTYPES = ("bf16", "fp32", "fp16")


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    name: str
    device: str
    dtype: str


def pick_device(device: str = "auto") -> str:
    """``auto``: CUDA when present, else CPU. An explicit device must exist here (a one-line
    error instead of torch's assertion deep inside loading)."""
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise AlignSQLError(f"--device {device!r} is not a torch device (auto, cpu, cuda, "
                            f"cuda:1, mps, ...)") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": hasattr(torch.backends, "mps") and torch.backends.mps.is_available(),
                 "xpu": hasattr(torch, "xpu") and torch.xpu.is_available()}
    if not available.get(kind, False):
        raise AlignSQLError(f"--device {device}: no such device on this machine "
                            f"(use auto or cpu)")
    return device


def native(dtype: str, device: str) -> bool:
    """Whether ``device`` multiplies ``dtype`` (bf16, fp16) matrices at speed. A CPU without
    the oneDNN path for it (bf16: AVX-512; fp16: AVX-512 FP16) falls back to a scalar matmul:
    bf16 and fp16 ran at 1.0 GFLOP/s against fp32's 84 on a 2-core AVX2 EPYC
    (bench/results/precision_probe.json)."""
    import torch
    kind = torch.device(device).type
    if dtype == "fp32" or kind not in ("cpu", "cuda"):
        return True
    if kind == "cuda":
        return dtype == "fp16" or torch.cuda.is_bf16_supported()
    check = {"bf16": "_is_mkldnn_bf16_supported", "fp16": "_is_mkldnn_fp16_supported"}.get(dtype)
    if check is None:  # not a dtype: the loader's own check names it
        return True
    try:
        return bool(getattr(torch.ops.mkldnn, check)())
    except (AttributeError, RuntimeError):  # a build without the check: assume it does
        return True


def compute_dtype(dtype: str, device: str = "auto") -> str:
    """``dtype`` as ``device`` should run it: a half precision the device has no fast path
    for becomes fp32 (the same answers up to rounding, many times faster there)."""
    return dtype if native(dtype, pick_device(device)) else "fp32"


def resolve(name_or_path: str, log=lambda _: None) -> str:
    """A registry name becomes its converted cache directory; a path or hub id is kept."""
    if name_or_path in MODELS:
        return str(convert(MODELS[name_or_path], log))
    check_model(name_or_path)
    return str(Path(name_or_path)) if Path(name_or_path).exists() else name_or_path


def check_model(name_or_path: str) -> None:
    """The error ``resolve`` would raise for a model that is neither a registry name, a model
    directory nor a hub id, without converting anything (a command checks before it writes)."""
    if name_or_path in MODELS:
        return
    path = Path(name_or_path)
    if path.exists():
        if not (path / "config.json").exists():
            raise AlignSQLError(f"{path}: not a model directory (no config.json)")
        return
    if "/" not in name_or_path:
        raise AlignSQLError(f"unknown model {name_or_path!r}: use one of "
                            f"{', '.join(MODELS)}, a model directory, or a Hugging Face id")
    if looks_like_path(name_or_path):
        raise AlignSQLError(f"{name_or_path}: model directory not found")


def looks_like_path(name: str) -> bool:
    """A Hugging Face id is exactly ``owner/name``; anything else with a slash is a path."""
    return (name.startswith(("/", ".", "~")) or name.endswith("/") or name.count("/") > 1
            or "\\" in name)


def _torch_dtype(dtype: str):
    import torch
    if dtype not in DTYPES:
        raise AlignSQLError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    return {"bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[dtype]


def load(name_or_path: str, dtype: str = "bf16", device: str = "auto",
         log=lambda _: None, quantize_4bit: bool = False) -> LoadedModel:
    """Tokenizer and model on the device, in ``dtype`` where the device runs it natively, else
    in fp32 (the result's ``dtype`` says which). ``quantize_4bit``: NF4 weights
    through bitsandbytes (QLoRA; CUDA only), placed by transformers rather than moved."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = pick_device(device)  # a bad device fails before a model is converted or read
    if compute_dtype(dtype, dev) != dtype:
        log(f"{name_or_path}: {dtype} is not native on this {dev}; loading it in fp32")
        dtype = "fp32"
    source = resolve(name_or_path, log)
    extra = {}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig
        extra = {"quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=_torch_dtype("bf16")), "device_map": {"": dev}}
    try:
        tok = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=_torch_dtype(dtype), **extra)
    except OSError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AlignSQLError(f"cannot load model {name_or_path!r}: {first}") from None
    prepare_tokenizer(tok)
    if not quantize_4bit:
        model.to(dev)
    model.eval()
    return LoadedModel(model, tok, name_or_path, dev, dtype)


def load_tokenizer(name_or_path: str):
    """The model's tokenizer alone (counting tokens needs no weights in memory)."""
    from transformers import AutoTokenizer
    source = resolve(name_or_path)
    try:
        tok = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise AlignSQLError(f"cannot load the tokenizer of {name_or_path!r}: "
                            f"{str(exc).splitlines()[0]}") from None
    prepare_tokenizer(tok)
    return tok


def prepare_tokenizer(tok) -> None:
    """Left padding for batched generation; a pad token where the model has none."""
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
