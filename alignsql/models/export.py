"""``alignsql models export``: a fine-tuned model as one GGUF file for llama.cpp and Ollama.

The source is a run (its ``merged/`` model), a model directory, or a registry name. Tensors are
renamed with gguf-py's ``TensorNameMap`` (the table llama.cpp's own converter uses); Llama's
query and key rows are reordered into the rotary layout llama.cpp computes with (Qwen2 keeps
the Hugging Face layout). The tokenizer goes along as byte-level BPE tokens, types and merges,
with the chat template; alignsql's prompt format (``prompt.json``: how the schema, question
and answer fence are laid out, the budget, the stop strings) is stored under ``alignsql.prompt``
so the GGUF alone is enough to ask the model the way it was trained.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignsql.errors import AlignSQLError

QUANTS = ("f32", "f16", "bf16", "q8_0")
FILE_TYPES = {"f32": "ALL_F32", "f16": "MOSTLY_F16", "bf16": "MOSTLY_BF16", "q8_0": "MOSTLY_Q8_0"}
ARCHS = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
PRE_TOKENIZERS = {"qwen2": "qwen2"}
"""llama.cpp's name for the text splitting before BPE; a registry base model's own GGUF says
it exactly, otherwise the architecture's usual one, else llama.cpp's ``default``."""


@dataclass
class ExportConfig:
    gguf: bool = True
    """Write a GGUF file (the one export format; the flag is accepted for clarity)."""
    quant: str = "q8_0"
    """Tensor type of the weight matrices: f32, f16, bf16 or q8_0 (norms stay f32)."""
    out: str = ""
    """The GGUF file to write (default: beside the model, named after the run and quant)."""
    base: str = ""
    """The model the run started from, when the source alone does not tell (registry name or
    directory): its GGUF supplies llama.cpp's pre-tokenizer name."""

    def __post_init__(self) -> None:
        if self.quant not in QUANTS:
            raise AlignSQLError(f"--quant must be one of {', '.join(QUANTS)}, not {self.quant!r}")
        if not self.gguf:
            raise AlignSQLError("GGUF is the one export format: drop --no-gguf")


def source_model(source: str, log: Callable[[str], None] = lambda _: None) -> Path:
    """The model directory to export: a run's merged model, a model directory, or a registry
    model's converted weights."""
    from alignsql.models.loading import resolve
    path = Path(source)
    if path.is_dir() and not (path / "config.json").exists():
        if (path / "merged" / "config.json").exists():
            return path / "merged"
        if (path / "config.yaml").exists():
            raise AlignSQLError(f"run {path} has no merged model (merged/config.json): train "
                                f"with merge: true, or export a model directory")
    return Path(resolve(source, log))


def _architecture(cfg) -> str:
    names = getattr(cfg, "architectures", None) or []
    for name in names:
        if name in ARCHS:
            return ARCHS[name]
    raise AlignSQLError(f"GGUF export supports {', '.join(ARCHS)}; this model is "
                        f"{', '.join(names) or cfg.model_type}")


def rotary_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Hugging Face Llama keeps each head's rotary halves apart ([x0..x(d/2-1), y0..]); llama.cpp
    rotates interleaved pairs ([x0, y0, x1, y1, ...]). Rows of each head are interleaved here;
    transformers' GGUF loader applies the inverse."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _qtype(name: str, array: np.ndarray, quant: str):
    """llama.cpp's rule: norms, biases and other vectors stay f32; matrices take the chosen type
    (q8_0 only where rows split into its 32-value blocks)."""
    import gguf
    T = gguf.GGMLQuantizationType
    if array.ndim < 2 or quant == "f32":
        return T.F32
    if quant == "q8_0":
        return T.Q8_0 if array.shape[-1] % 32 == 0 else T.F16
    return {"f16": T.F16, "bf16": T.BF16}[quant]


def tensors(state: dict, cfg, arch: str) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, float32 array) for every weight; a tied output matrix is not repeated."""
    import gguf
    names = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, arch.upper()),
                                     cfg.num_hidden_layers)
    tied = getattr(cfg, "tie_word_embeddings", False)
    for key, value in state.items():
        if key == "lm_head.weight" and tied:
            continue
        if key.endswith("rotary_emb.inv_freq"):
            continue
        name = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise AlignSQLError(f"GGUF export: no GGUF name for tensor {key} ({arch})")
        array = value.float().numpy()
        if arch == "llama" and name.endswith(("attn_q.weight", "attn_q.bias")):
            array = rotary_permute(array, cfg.num_attention_heads)
        elif arch == "llama" and name.endswith(("attn_k.weight", "attn_k.bias")):
            array = rotary_permute(array, cfg.num_key_value_heads)
        yield name, array


def _hparams(writer, cfg) -> None:
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    rope = getattr(cfg, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(cfg, "rope_theta", None))
    if theta is not None:
        writer.add_rope_freq_base(float(theta))
    writer.add_vocab_size(cfg.vocab_size)


def vocab(tokenizer, vocab_size: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens by id (ids the tokenizer lacks up to the model's vocabulary size are unused
    padding), their GGUF types, and the BPE merges as "left right"."""
    import gguf
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    if data["model"]["type"] != "BPE":
        raise AlignSQLError(f"GGUF export supports byte-level BPE tokenizers, not "
                            f"{data['model']['type']}")
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = {a["id"]: a for a in data.get("added_tokens", [])}
    size = max(vocab_size, max(by_id) + 1)
    toks, types = [], []
    for i in range(size):
        if i not in by_id:
            toks.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        toks.append(by_id[i])
        extra = added.get(i)
        types.append(gguf.TokenType.NORMAL if extra is None else
                     gguf.TokenType.CONTROL if extra.get("special") else gguf.TokenType.USER_DEFINED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"].get("merges", [])]
    return toks, [int(t) for t in types], merges


def _tokenizer(writer, tokenizer, cfg, pre: str) -> None:
    toks, types, merges = vocab(tokenizer, cfg.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(toks)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for attr, add in (("bos_token_id", writer.add_bos_token_id),
                      ("eos_token_id", writer.add_eos_token_id),
                      ("pad_token_id", writer.add_pad_token_id),
                      ("unk_token_id", writer.add_unk_token_id)):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            add(int(value))
    writer.add_add_bos_token(False)  # alignsql's prompts carry their own special tokens
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)


def pre_tokenizer(model: Path, base: str | None, arch: str) -> str:
    """The base model's own ``tokenizer.ggml.pre`` when it came from a registry GGUF (named as
    the base, or the model is its converted directory); else the architecture's usual one."""
    import gguf
    from alignsql.models.gguf import model_dir
    from alignsql.models.registry import MODELS
    for name in MODELS:
        source = model_dir(name) / "model.gguf"
        ours = base == name or model.resolve() == (model_dir(name) / "hf").resolve()
        if ours and source.exists():
            field = gguf.GGUFReader(source).fields.get("tokenizer.ggml.pre")
            if field is not None:
                return str(field.contents())
    return PRE_TOKENIZERS.get(arch, "default")


def run_base(model: Path) -> str | None:
    """The model a run started from (its config.yaml), for a run's merged model."""
    import yaml
    run_cfg = model.parent / "config.yaml"
    if model.name != "merged" or not run_cfg.is_file():
        return None
    base = (yaml.safe_load(run_cfg.read_text()) or {}).get("model")
    return base if isinstance(base, str) and base else None


def _label(model: Path) -> str:
    """A run's name for its merged model, else the directory's."""
    return model.parent.name if model.name in ("merged", "hf") else model.name


def prompt_metadata(model: Path) -> dict:
    """prompt.json beside the model (settings it was trained with) plus the prompt layout."""
    from alignsql.models.prompts import prompt_format
    path = model / "prompt.json"
    settings = json.loads(path.read_text()) if path.is_file() else {}
    return {**prompt_format(), **settings}


def _add_tensors(writer, model: Path, hf_cfg, arch: str, quant: str) -> int:
    """Every weight, converted to its GGUF type; returns how many."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM
    weights = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).state_dict()
    count = 0
    for name, array in tensors(weights, hf_cfg, arch):
        qtype = _qtype(name, array, quant)
        data = array if qtype == gguf.GGMLQuantizationType.F32 else gguf.quants.quantize(array, qtype)
        writer.add_tensor(name, data, raw_dtype=qtype)
        count += 1
    return count


def export_gguf(source: str, cfg: ExportConfig,
                log: Callable[[str], None] = lambda _: None) -> dict:
    """Write ``source`` (a run, a model directory or a registry name) as one GGUF; returns
    what was written."""
    import gguf
    from transformers import AutoConfig, AutoTokenizer

    quant = cfg.quant
    model = source_model(source, log)
    target = Path(cfg.out) if cfg.out else model.parent / f"{_label(model)}-{quant}.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    hf_cfg = AutoConfig.from_pretrained(model)
    arch = _architecture(hf_cfg)
    tokenizer = AutoTokenizer.from_pretrained(model)
    pre = pre_tokenizer(model, cfg.base or run_base(model), arch)
    log(f"exporting {model} ({arch}) to {target} as {quant}")
    writer = gguf.GGUFWriter(str(target.with_suffix(".partial")), arch)
    writer.add_name(_label(model))
    writer.add_file_type(getattr(gguf.LlamaFileType, FILE_TYPES[quant]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _hparams(writer, hf_cfg)
    _tokenizer(writer, tokenizer, hf_cfg, pre)
    prompt = prompt_metadata(model)
    writer.add_string("alignsql.prompt", json.dumps(prompt))
    count = _add_tensors(writer, model, hf_cfg, arch, quant)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    target.with_suffix(".partial").replace(target)
    return {"out": str(target), "source": str(model), "architecture": arch, "quant": quant,
            "tensors": count, "bytes": target.stat().st_size, "pre_tokenizer": pre,
            "prompt": prompt}
