"""The configuration of ``alignsql synth`` (one dataclass; its YAML mirrors it)."""
from __future__ import annotations

from dataclasses import dataclass, field

from alignsql import config
from alignsql.errors import AlignSQLError
from alignsql.models.registry import DEFAULT_MODEL

MODES = ("frequency", "uniform", "steered")


@dataclass
class SynthConfig:
    db: str = "spider:dev"
    """Databases to synthesize on: a dataset spec (each of its SQLite databases) or a path to
    a SQLite file."""
    templates_from: str = "spider:train"
    """Dataset spec (or file:PATH of example queries) whose typed templates are filled."""
    target: str | None = None
    """Dataset spec of a target sample; sampling is steered toward its templates."""
    target_limit: int | None = 200
    """Queries of the target used for steering (a seeded sample)."""
    mode: str | None = None
    """frequency, uniform or steered (default: steered with a target, else frequency)."""
    n: int = 3000
    """Verified pairs per round, over all databases."""
    rounds: int = 1
    """Rounds of synthesis (each after fine-tuning on the previous ones when sft is set)."""
    out: str = "runs/synth"
    """Run directory."""
    questions: bool = True
    """Have a model write each query's question (off: SQL-only output, e.g. for alignment)."""
    sql2text_model: str = DEFAULT_MODEL
    """Model that writes the questions (registry name, directory or Hugging Face id)."""
    train_sql2text: bool = False
    """Fine-tune the question writer on (SQL -> question) pairs of templates_from first."""
    sql2text_train_size: int = 500
    """Source pairs used to fine-tune the question writer."""
    round_trip: bool = True
    """Keep a pair only when the text-to-SQL model's answer returns the same result."""
    text2sql_model: str = DEFAULT_MODEL
    """Text-to-SQL model of the round trip (the same in every round, so the filter does not
    drift with the model being trained)."""
    sft: str | None = None
    """SFT config YAML for the per-round fine-tuning (configs/sft/...); none = no training."""
    sft_overrides: list[str] = field(default_factory=list)
    """key=value overrides of the SFT config (e.g. max_length=512)."""
    real: list[str] = field(default_factory=lambda: ["spider:train"])
    """Real training data mixed with the synthetic pairs."""
    real_size: list[int] = field(default_factory=lambda: [300])
    """Examples sampled from each real spec."""
    val_fraction: float = 0.1
    """Share of each round's pairs held out as the synthetic validation split."""
    failure_boost: float = 2.0
    """Weight multiplier per validation failure of a template in the next round."""
    max_attempts: int = 20
    """Candidates tried per kept query, at most (then the database is given up)."""
    timeout: float = 5.0
    """Seconds per query execution."""
    batch_size: int = 8
    """Generation slots for question writing and the round trip."""
    dtype: str = "bf16"
    """Model precision for generation."""
    ray: str | None = None
    """Verify candidate queries over a Ray cluster, one database per task: local (start one
    here), auto (this machine's cluster) or ray://HOST:PORT. Question writing and the round
    trip use --backend (vLLM batches them)."""
    backend: str = "auto"
    """Engine of the question writer and the round trip: auto (vllm where installed, else
    hf), hf or vllm."""
    seed: int = 0
    """Seed of sampling and filling."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "hf", "vllm"):
            raise AlignSQLError(f"backend must be auto, hf or vllm, not {self.backend!r}")
        if self.mode is not None and self.mode not in MODES:
            raise AlignSQLError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "steered" and not self.target:
            raise AlignSQLError("mode=steered needs a target")
        config.at_least(self, n=1, rounds=1, target_limit=1, sql2text_train_size=1,
                        failure_boost=0, max_attempts=1, timeout=1e-3, batch_size=1)
        config.within(self, val_fraction=(0.0, 0.9))
        if self.rounds > 1 and not self.sft:
            raise AlignSQLError("rounds > 1 fine-tune between rounds: set sft to an SFT config")
        if self.sft and not self.questions:
            raise AlignSQLError("fine-tuning (sft) needs questions: set questions=true")
        if len(self.real_size) != len(self.real):
            raise AlignSQLError("real_size needs one number per real spec")


def resolved_mode(cfg: SynthConfig) -> str:
    return cfg.mode or ("steered" if cfg.target else "frequency")
