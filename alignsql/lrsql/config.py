"""The `alignsql lrsql` command's settings; configs/lrsql/*.yaml mirror them."""
from __future__ import annotations

from dataclasses import dataclass, field

from alignsql.config import at_least
from alignsql.errors import AlignSQLError
from alignsql.train.config import SFTConfig


@dataclass
class LRSQLConfig:
    name: str = "lrsql"
    """Run name: outputs go to <output_dir>/<name>/ (link/, sqlgen/, eval/)."""
    output_dir: str = "runs"
    """Folder that holds run directories."""
    model: str = "smollm2-135m"
    """Base model of both stages (one fine-tune each)."""
    dataset: str = "spider:train"
    """Whose databases are merged into one large schema, with their questions."""
    min_tables: int = 150
    """Merge databases until the schema has at least this many tables."""
    prefix: bool = False
    """Prefix every table with its database (default: only names that collide)."""
    n_train: int = 300
    """Questions to train on (a seeded sample of the merged questions)."""
    n_test: int = 100
    """Held-out questions to evaluate on (disjoint from the training ones)."""
    slice_tokens: int = 1024
    """Token budget of one schema-link prompt; slices hold slice_tokens - reserve."""
    reserve: int = 256
    """Tokens kept free in a slice prompt for instructions, question, hint and answer."""
    slicing: str = "fk"
    """fk (foreign-key components kept together, keyed tables first) or random (ablation)."""
    none_per_positive: float | None = 2.0
    """Schema-link samples answering "none" kept per sample that names a table (a seeded
    choice; null keeps all). Most (question, slice) pairs hold no gold table, and a short run
    on all of them learns to answer "none" everywhere."""
    sqlgen_max_length: int = 768
    """Training sequence length of the SQL-generation model; its prompts (training and
    inference alike) get sqlgen_max_length - 160 tokens."""
    method: str = "lora"
    """lora or full, for both stages."""
    lora_r: int = 16
    """LoRA rank of both stages."""
    lora_alpha: int = 32
    """LoRA scaling numerator (alpha / r scales the update)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA path."""
    lora_targets: str = "all-linear"
    """Modules that get adapters: all-linear or names separated by commas (as SFT's)."""
    learning_rate: float = 2e-4
    """Peak learning rate of both stages."""
    warmup_ratio: float = 0.03
    """Share of a stage's steps spent warming up."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    optimizer: str = "adamw_torch"
    """Optimizer name as transformers' TrainingArguments.optim takes it."""
    lr_scheduler: str = "cosine"
    """Learning-rate schedule of each stage, as transformers' lr_scheduler_type takes it."""
    max_steps: int = 60
    """Optimizer steps of each stage (-1: train each stage for ``epochs`` passes instead; the
    stages differ in size by the number of slices, so a step budget suits only short runs)."""
    epochs: float = 1.0
    """Passes over each stage's samples when max_steps is -1."""
    batch_size: int = 4
    """Examples per step."""
    grad_accum: int = 1
    """Steps per optimizer update."""
    group_size: int = 16
    """Most examples sharing a prompt prefix (a slice's tables; a schema) trained as one group,
    the prefix computed once (alignsql.train.prefix); capped by batch_size."""
    group_max_tokens: int = 4096
    """Most tokens of one group's packed row."""
    gradient_checkpointing: bool = True
    """Recompute activations in the backward pass: the memory budget is the point of LR-SQL,
    and on long prompts activations, not weights, dominate training memory."""
    release_memory: bool = False
    """CPU only: give freed tensors back to the system at once (see alignsql.train.memory)."""
    dtype: str = "bf16"
    """bf16 (autocast) or fp32."""
    device: str = "auto"
    """auto, cpu or cuda."""
    gen_batch_size: int = 8
    """Batch size of the inference walk and SQL generation (hf engine)."""
    backend: str = "auto"
    """Engine of the walk and the SQL generation: auto (vllm where installed, else hf), hf
    or vllm."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers besides metrics.jsonl (tensorboard, wandb, mlflow, ...) for both
    stages, as SFT's."""
    seed: int = 0
    """Seed of the question split and of training."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""

    def __post_init__(self) -> None:
        # the training keys are checked by the stages' SFT settings (below); these are
        # LR-SQL's own. The SQL generator's prompt budget (sqlgen_max_length - 160) must
        # hold a schema.
        at_least(self, min_tables=1, n_train=1, n_test=1, slice_tokens=64, reserve=0,
                 none_per_positive=0, sqlgen_max_length=192, max_steps=-1,
                 group_max_tokens=64, gen_batch_size=1)
        if self.backend not in ("auto", "hf", "vllm"):
            raise AlignSQLError(f"backend must be auto, hf or vllm, not {self.backend!r}")
        if self.slicing not in ("fk", "random"):
            raise AlignSQLError(f"slicing must be fk or random, not {self.slicing!r}")
        if self.none_per_positive is not None and self.none_per_positive < 0:
            raise AlignSQLError("none_per_positive must be >= 0 or null")
        if self.max_steps == 0 or self.max_steps < -1:
            raise AlignSQLError(f"max_steps must be > 0, or -1 to use epochs, not {self.max_steps}")
        if not self.epochs > 0:
            raise AlignSQLError(f"epochs must be > 0, not {self.epochs}")
        if self.reserve >= self.slice_tokens:
            raise AlignSQLError("reserve must be smaller than slice_tokens")
        self.stage("link", self.slice_tokens)  # the stages' SFT settings are checked there

    @property
    def sqlgen_prompt_tokens(self) -> int:
        """The SQL generator's prompt budget, at training and at inference."""
        return self.sqlgen_max_length - 160

    def stage(self, stage: str, max_length: int) -> SFTConfig:
        """The SFT settings of one stage (its own run directory under this run)."""
        return SFTConfig(name=f"{self.name}/{stage}", output_dir=self.output_dir, model=self.model,
                         train=[], method=self.method, learning_rate=self.learning_rate,
                         lora_r=self.lora_r, lora_alpha=self.lora_alpha,
                         lora_dropout=self.lora_dropout, lora_targets=self.lora_targets,
                         warmup_ratio=self.warmup_ratio, weight_decay=self.weight_decay,
                         optimizer=self.optimizer, lr_scheduler=self.lr_scheduler,
                         max_steps=self.max_steps, epochs=self.epochs,
                         batch_size=self.batch_size,
                         grad_accum=self.grad_accum, dtype=self.dtype, device=self.device,
                         group_size=self.group_size,
                         group_max_tokens=max(self.group_max_tokens, max_length),
                         max_prompt_tokens=self.sqlgen_prompt_tokens if stage == "sqlgen"
                         else None,
                         gradient_checkpointing=self.gradient_checkpointing,
                         release_memory=self.release_memory,
                         seed=self.seed, max_length=max_length, sample_values=0,
                         report_to=self.report_to,
                         val_fraction=0.0,
                         # an epoch's step count is known only once grouped: every 5 steps
                         # keeps a session's end from losing a short stage whole (a LoRA
                         # checkpoint with its optimizer state is ~110 MB for Qwen-0.5B)
                         save_steps=max(10, self.max_steps // 3) if self.max_steps > 0 else 5,
                         data_root=self.data_root)
