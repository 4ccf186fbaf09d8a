"""The SFT command's config: one dataclass, mirrored exactly by configs/sft/*.yaml."""
from __future__ import annotations

from dataclasses import dataclass, field

from alignsql.config import at_least, within
from alignsql.errors import AlignSQLError


COMMON_OPTIMIZERS = {"adamw_torch", "adamw_torch_fused", "sgd", "adafactor", "adamw_8bit"}


def check_optimizer(name: str) -> None:
    """A one-line error for an optimizer transformers does not know (its own is a traceback
    after the model has loaded)."""
    if name in COMMON_OPTIMIZERS:
        return
    from transformers.training_args import OptimizerNames
    known = [o.value for o in OptimizerNames]
    if name not in known:
        raise AlignSQLError(f"optimizer must be one of transformers' optimizers (e.g. "
                            f"{', '.join(sorted(COMMON_OPTIMIZERS))}), not {name!r}")


TRACKERS = {"tensorboard", "wandb", "mlflow", "comet_ml", "clearml", "dvclive", "trackio",
            "swanlab", "neptune", "codecarbon", "azure_ml"}
SCHEDULERS = {"linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau",
              "cosine_with_min_lr", "warmup_stable_decay"}


def check_json_file(name: str, path: str | None) -> None:
    """A config key naming a JSON file: it must exist and parse (one-line error)."""
    if path is None:
        return
    import json
    from pathlib import Path
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        raise AlignSQLError(f"{name}: {path} not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AlignSQLError(f"{name}: {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise AlignSQLError(f"{name}: {path} must hold a JSON object")


def check_trackers(names: list[str]) -> None:
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise AlignSQLError(f"report_to: unknown tracker(s) {', '.join(unknown)} (use "
                            f"{', '.join(sorted(TRACKERS))})")


def check_scheduler(name: str) -> None:
    if name not in SCHEDULERS:
        raise AlignSQLError(f"lr_scheduler must be one of {', '.join(sorted(SCHEDULERS))}, "
                            f"not {name!r}")


@dataclass
class SFTConfig:
    name: str = "sft"
    """Run name: outputs go to <output_dir>/<name>/."""
    output_dir: str = "runs"
    """Folder that holds run directories."""
    model: str = "qwen2.5-coder-0.5b"
    """Base model: registry name, model directory or Hugging Face id."""
    train: list[str] = field(default_factory=lambda: ["spider:train"])
    """Training dataset specs (name:split or file:PATH, e.g. an `alignsql select` subset)."""
    train_size: list[int] = field(default_factory=list)
    """Examples sampled from each training spec (same order); empty = all of each."""
    mix: list[float] = field(default_factory=list)
    """Mixing weights per spec; with n_train, source i gets n_train * w_i / sum(w)."""
    n_train: int | None = None
    """Total examples when mixing by weights."""
    exclude: list[str] = field(default_factory=list)
    """Dataset specs you evaluate on: a training example whose question appears in one of them
    (lower-cased, punctuation removed) is left out before sampling, and counted in data.json
    (Spider's training set holds 113 of geography:test's questions word for word)."""
    refill: bool = False
    """With train_size: each example left out as longer than max_length is replaced by a
    further one of the same spec (seeded, never one already drawn) until the spec has its size
    or runs out, so long-SQL sets (ATIS) still train on train_size examples; the long ones
    stay counted in data.json, beside `refilled`. Off: a size counts examples drawn."""
    val_fraction: float = 0.05
    """Held-out share of the training examples, for validation loss."""
    method: str = "lora"
    """lora or full."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (alpha / r scales the update)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA path."""
    lora_targets: str = "all-linear"
    """Modules that get adapters: all-linear (every linear layer) or names separated by
    commas, e.g. q_proj,v_proj (PEFT's target_modules)."""
    max_length: int = 1024
    """Most tokens of one example (prompt + SQL + EOS); longer examples are left out, counted."""
    max_prompt_tokens: int | None = None
    """Prompt budget (schema values, then the least relevant tables, dropped to meet it); the
    same budget is used at inference (prompt.json). Default: max_length - 128 (or 3/4 of a
    sequence shorter than 512)."""
    sample_values: int = 0
    """Distinct example values per column in prompts (keep equal at training and inference)."""
    learning_rate: float = 2e-4
    """Peak learning rate (cosine decay after warm-up)."""
    warmup_ratio: float = 0.03
    """Share of steps spent warming up."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    optimizer: str = "adamw_torch"
    """Optimizer name as transformers' TrainingArguments.optim takes it (adamw_torch, sgd,
    adafactor, ...)."""
    lr_scheduler: str = "cosine"
    """Learning-rate schedule as transformers' lr_scheduler_type takes it (cosine, linear,
    constant, constant_with_warmup, ...)."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers besides metrics.jsonl: tensorboard, wandb, mlflow, ..."""
    deepspeed: str | None = None
    """DeepSpeed JSON config (e.g. configs/deepspeed/zero3.json) for multi-GPU runs started
    with `deepspeed` or `accelerate launch`."""
    fsdp: str = ""
    """FSDP as transformers' fsdp option takes it, e.g. "full_shard auto_wrap" (torchrun /
    accelerate launch)."""
    fsdp_config: str | None = None
    """JSON file of FSDP options (transformers' fsdp_config)."""
    base_dtype: str = "fp32"
    """Precision of the frozen base weights of a LoRA run: fp32, or bf16 to halve them (the
    adapters still train in fp32; a 7B base is 14 instead of 28 GB)."""
    epochs: float = 1.0
    """Passes over the training data (ignored when max_steps > 0)."""
    max_steps: int = -1
    """Stop after this many optimizer steps (-1: use epochs)."""
    batch_size: int = 4
    """Examples per device step (whole groups; a group never holds more)."""
    grad_accum: int = 1
    """Steps accumulated per optimizer update."""
    group_size: int = 16
    """Most examples sharing a prompt prefix (system turn + schema) trained as one group, the
    prefix computed once (alignsql.train.prefix); capped by batch_size; 1 = each alone."""
    group_max_tokens: int = 2048
    """Most tokens of one group's packed row (the prefix once, plus every member)."""
    share_prefix: bool = True
    """Compute a group's prefix once. false runs every member in full: the same batches and
    loss without the saving (to measure it)."""
    group_by_length: bool = True
    """Put groups of similar length in one step (less padding)."""
    loss_logits_only: bool = True
    """Project to the vocabulary only where the loss is (the SQL): the same loss with far less
    memory and time than logits for every prompt token (alignsql.train.losses)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% slower."""
    release_memory: bool = False
    """CPU only: give freed tensors back to the system at once (glibc's mmap threshold pinned,
    alignsql.train.memory); peak RSS fell 4.8x on a LoRA step here, steps can get slower."""
    dtype: str = "bf16"
    """Compute precision: bf16 (autocast over fp32 weights) or fp32."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    logging_steps: int = 5
    """Write a metrics.jsonl row every N optimizer steps."""
    save_steps: int = 50
    """Checkpoint every N optimizer steps (a killed run resumes from the last one)."""
    eval_steps: int = 50
    """Validation loss every N optimizer steps."""
    seed: int = 0
    """Seed for sampling, shuffling and initialisation."""
    eval: str | None = None
    """Target dataset evaluated by execution before and after training (e.g. spider:dev)."""
    eval_limit: int = 200
    """Questions of the target (a seeded sample among those with a database)."""
    eval_batch_size: int = 8
    """Generation batch size for the before/after evaluation."""
    allow_leak: bool = False
    """Evaluate on a target that steered or selected the training data anyway (a `select`
    subset or synthesis round records its target); the result is then not clean."""
    merge: bool = True
    """Also write a merged model (base + adapter) to <run>/merged."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full", "qlora"):
            raise AlignSQLError(f"method must be lora, qlora or full, not {self.method!r}")
        if self.base_dtype not in ("fp32", "bf16"):
            raise AlignSQLError(f"base_dtype must be fp32 or bf16, not {self.base_dtype!r}")
        if self.method == "full" and self.base_dtype != "fp32":
            raise AlignSQLError("base_dtype bf16 is for LoRA: full fine-tuning keeps fp32 "
                                "master weights")
        check_json_file("deepspeed", self.deepspeed)
        check_json_file("fsdp_config", self.fsdp_config)
        check_trackers(self.report_to)
        check_scheduler(self.lr_scheduler)
        if self.dtype not in ("bf16", "fp32"):
            raise AlignSQLError(f"dtype must be bf16 or fp32, not {self.dtype!r}")
        if self.train_size and len(self.train_size) != len(self.train):
            raise AlignSQLError("train_size needs one number per train spec")
        if self.mix and (len(self.mix) != len(self.train) or not self.n_train):
            raise AlignSQLError("mix needs one weight per train spec, and n_train")
        if self.refill and not self.train_size:
            raise AlignSQLError("refill needs train_size (the number of examples to fill to)")
        at_least(self, batch_size=1, grad_accum=1, lora_r=1, lora_alpha=1e-12,
                 learning_rate=1e-12, epochs=1e-9, logging_steps=1, save_steps=1, eval_steps=1,
                 eval_limit=1, eval_batch_size=1, group_size=1, weight_decay=0,
                 sample_values=0)
        within(self, val_fraction=(0, 0.5), warmup_ratio=(0, 1), lora_dropout=(0, 1))
        if self.max_length < 64:
            raise AlignSQLError("max_length must be at least 64")
        budget = self.max_prompt_tokens
        if budget is not None and not 32 <= budget < self.max_length:
            raise AlignSQLError("max_prompt_tokens must be at least 32 and below max_length")
        if self.group_size < 1:
            raise AlignSQLError("group_size must be at least 1")
        if self.group_max_tokens < self.max_length:
            raise AlignSQLError("group_max_tokens must be at least max_length (one example)")
        check_optimizer(self.optimizer)

    @property
    def prompt_budget(self) -> int:
        """The prompt token budget of training and of inference with the trained model."""
        return self.max_prompt_tokens or default_prompt_budget(self.max_length)


def on_device(cfg, log=lambda _: None):
    """``cfg`` (any config with ``device`` and ``dtype``, and maybe ``base_dtype``) with its
    precisions as this machine runs them: bf16 becomes fp32 where the device has no fast bf16
    (alignsql.models.loading.compute_dtype), so the config saved with a run says what ran.
    One line through ``log`` when something changed."""
    import dataclasses

    from alignsql.models.loading import compute_dtype
    fields = [f for f in ("dtype", "base_dtype") if hasattr(cfg, f)]
    changes = {f: compute_dtype(getattr(cfg, f), cfg.device) for f in fields}
    changes = {f: v for f, v in changes.items() if v != getattr(cfg, f)}
    if not changes:
        return cfg
    log(f"{' and '.join(changes)}: bf16 is not native on this device (a CPU without AVX-512 "
        f"runs it many times slower than fp32); running in fp32")
    return dataclasses.replace(cfg, **changes)


def default_prompt_budget(max_length: int) -> int:
    """What a prompt may use of ``max_length`` when not set: room for a 128-token SQL (a
    quarter of the sequence when that is less)."""
    return max_length - min(128, max_length // 4)


LOSSES = ("spft", "spin", "dpo")


@dataclass
class SelfPlayConfig:
    name: str = "selfplay"
    """Run name: outputs go to <output_dir>/<name>/."""
    output_dir: str = "runs"
    """Folder that holds run directories."""
    pool: list[str] = field(default_factory=list)
    """Candidate text-to-SQL models (registry names, model directories, e.g. the merged models
    of synth rounds). The most accurate on the validation set is main, the least the opponent."""
    loss: str = "spft"
    """spft (error-driven: only the opponent's wrong SQL is pushed down), spin (every generated
    answer treated as wrong, opponent = previous iteration) or dpo (gold vs execution-wrong
    pairs, reference = the starting model)."""
    lam: float = 0.1
    """lambda: scale of the log-ratios inside the logistic loss (SPIN used 0.1)."""
    train: list[str] = field(default_factory=lambda: ["spider:train@fit"])
    """Dataset specs of the training questions (with gold SQL and a database)."""
    train_size: list[int] = field(default_factory=lambda: [200])
    """Questions sampled from each spec, among those whose database exists (the others are
    counted as ineligible)."""
    exclude: list[str] = field(default_factory=list)
    """Dataset specs you evaluate on: training questions that appear in them are left out
    before sampling (as in SFT's exclude)."""
    val: str = "spider:train@val"
    """Validation set (by execution) that ranks the pool and stops early: from the training
    side (never the target results are reported on), e.g. file:runs/synth/round1_val.jsonl."""
    val_limit: int = 100
    """Validation questions (a seeded sample among those with a database)."""
    k: int = 2
    """SQL samples per training question from the opponent."""
    temperature: float = 1.0
    """Sampling temperature of the opponent."""
    max_new_tokens: int = 160
    """Generation budget per sample."""
    iterations: int = 2
    """Self-play iterations."""
    early_stop: bool = True
    """Stop when an iteration's model does not beat the best validation EX so far."""
    method: str = "lora"
    """lora (the opponent stays the frozen base) or full."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator."""
    learning_rate: float = 5e-5
    """Peak learning rate."""
    warmup_ratio: float = 0.1
    """Share of an iteration's steps spent warming up."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    optimizer: str = "adamw_torch_fused"
    """Optimizer name as transformers' TrainingArguments.optim takes it (its default here)."""
    lr_scheduler: str = "cosine"
    """Learning-rate schedule of each iteration, as transformers' lr_scheduler_type takes it."""
    max_steps: int = 20
    """Optimizer steps per iteration (the same budget for every loss)."""
    batch_size: int = 2
    """Questions per device step: each is one prefix-shared row holding its prompt once, its
    gold SQL and its k samples (k pairs)."""
    grad_accum: int = 2
    """Steps accumulated per optimizer update."""
    max_length: int = 768
    """Tokens per sequence (prompt + SQL); prompts shrink their schema to fit."""
    sample_values: int = 0
    """Distinct example values per column in prompts."""
    dtype: str = "bf16"
    """bf16 (autocast over fp32 weights) or fp32."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    backend: str = "auto"
    """Engine that samples the opponent: auto (vllm where installed, else hf), hf or vllm
    (not openai: the opponent changes between iterations, a server holds one model)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory (a question's gold and k
    samples share one packed row), about 30% slower."""
    logging_steps: int = 1
    """Write a metrics.jsonl row every N optimizer steps."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers besides metrics.jsonl (tensorboard, wandb, mlflow, ...), as SFT's;
    each iteration's training logs under its own folder."""
    save_steps: int = 10
    """Checkpoint every N optimizer steps."""
    seed: int = 0
    """Seed of sampling, shuffling and initialisation."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise AlignSQLError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if not self.pool:
            raise AlignSQLError("pool needs at least one model")
        if len(self.train_size) != len(self.train):
            raise AlignSQLError("train_size needs one number per train spec")
        if self.method not in ("lora", "full"):
            raise AlignSQLError(f"method must be lora or full, not {self.method!r}")
        if self.backend not in ("auto", "hf", "vllm"):
            raise AlignSQLError(f"backend must be auto, hf or vllm, not {self.backend!r} (the "
                                f"opponent changes between iterations)")
        at_least(self, k=1, iterations=1, batch_size=1, grad_accum=1, lora_r=1,
                 lora_alpha=1e-12, learning_rate=1e-12, lam=1e-12, max_steps=1,
                 max_new_tokens=1, max_length=64, val_limit=1, temperature=0, sample_values=0,
                 logging_steps=1, save_steps=1, weight_decay=0)
        within(self, warmup_ratio=(0, 1))
        check_trackers(self.report_to)
        check_scheduler(self.lr_scheduler)
        check_optimizer(self.optimizer)
