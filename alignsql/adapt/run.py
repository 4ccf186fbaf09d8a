"""``alignsql adapt``: from a user's SQLite database (and the SQL they run) to a fine-tuned
model, with the proof, in one command.

    profile   schema, workload and test read and checked; public sets aligned to the workload
    plan      throughput measured here; data and steps sized to --budget-min (printed first)
    synth     verified question/SQL pairs from the database, steered to the workload
    select    the public examples best aligned with the workload (alignsql select), as many
              as fill the training time left
    train     prefix-shared SFT on the selected + synthetic pairs
    evaluate  untuned and tuned model on the test pairs, paired (interval, McNemar p)
    report    report.html + summary.json

Every stage writes ``<out>/stages/<stage>.json`` when it finishes and is skipped when that
file exists, so a killed run resumes at the stage it was in (training resumes from its last
checkpoint). The test pairs are used for nothing but the final evaluation; without them a
held-out part of the synthetic pairs is used, and the report says so.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alignsql import config
from alignsql.errors import AlignSQLError
from alignsql.models.registry import DEFAULT_MODEL


@dataclass
class AdaptConfig:
    db: str = ""
    """Your SQLite database (only read, never written)."""
    workload: str | None = None
    """SQL you run on it: a .sql script, or JSONL / CSV with a `sql` column (questions
    optional). Steers selection and synthesis."""
    test: str | None = None
    """Question/SQL pairs that judge the result (JSONL / CSV with `question` and `sql`); used
    for nothing else. Without it a held-out part of the synthetic pairs is used."""
    model: str = DEFAULT_MODEL
    """Model to adapt: registry name, model directory or Hugging Face id."""
    out: str = "runs/adapt"
    """Run directory (resumed when it exists)."""
    budget_min: float = 60.0
    """Minutes the whole run may take on this machine (sizes data and steps)."""
    pool: list[str] = field(default_factory=lambda: ["spider:train"])
    """Public training sets to select from."""
    n_select: int | None = None
    """Public examples to train on (default: as many as fill the training time left after
    synthesis, counted in tokens at the measured training rate)."""
    n_synth: int | None = None
    """Synthetic queries to write questions for (default: from the budget)."""
    max_length: int = 1024
    """Most tokens of a training example."""
    sample_values: int = 3
    """Example values per column in prompts (training and inference alike)."""
    method: str = "lora"
    """lora or full."""
    learning_rate: float = 2e-4
    """Peak learning rate."""
    batch_size: int = 8
    """Examples per training step (questions on one database share their schema's compute)."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    dtype: str = "bf16"
    """Compute precision of training (autocast) and generation."""
    seed: int = 0
    """Seed of selection, synthesis, training and the bootstrap."""
    data_root: str | None = None
    """Data folder of the public sets (default: $ALIGNSQL_DATA, else ../shared/data)."""

    def __post_init__(self) -> None:
        if not self.db:
            raise AlignSQLError("give --db PATH (your SQLite database)")
        config.at_least(self, budget_min=1e-3, n_select=1, n_synth=1, max_length=32,
                        sample_values=0, learning_rate=1e-12, batch_size=1)
        if self.method not in ("lora", "full"):
            raise AlignSQLError(f"method (--method) must be lora or full, not {self.method!r}")


class Run:
    """The run directory: stage results, resumable."""

    def __init__(self, cfg: AdaptConfig, log: Callable[[str], None]) -> None:
        self.cfg, self.log = cfg, log
        self.out = Path(cfg.out)
        (self.out / "stages").mkdir(parents=True, exist_ok=True)
        self.db = Path(cfg.db).resolve()

    def done(self, stage: str) -> dict | None:
        path = self.out / "stages" / f"{stage}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def stage(self, name: str, fn: Callable[[], dict]) -> dict:
        """Run a stage unless it finished before; its result and duration are kept."""
        if (result := self.done(name)) is not None:
            self.log(f"{name}: done earlier, skipped")
            return result
        self.log(f"{name} ...")
        start = time.perf_counter()
        result = fn()
        result["seconds"] = time.perf_counter() - start
        (self.out / "stages" / f"{name}.json").write_text(json.dumps(result, indent=2))
        return result


def steps(run: Run, log: Callable[[str], None] = lambda _: None) -> dict:
    """Every stage in order; returns summary.json's content."""
    from alignsql.adapt import stages
    results: dict = {}
    results["profile"] = run.stage("profile", lambda: stages.profile(run))
    results["plan"] = run.stage("plan", lambda: stages.plan(run, results["profile"]))
    log(stages.describe(results["plan"]))
    results["synth"] = run.stage("synth", lambda: stages.synth(run, results["plan"]))
    results["select"] = run.stage("select", lambda: stages.select(run, results))
    if fit := stages.describe_fit(results["select"]):
        log(f"selection: {fit}")
    results["train"] = run.stage("train", lambda: stages.train(run, results))
    results["evaluate"] = run.stage("evaluate", lambda: stages.evaluate(run, results))
    results["report"] = run.stage("report", lambda: stages.report(run, results))
    return results


def check_inputs(cfg: AdaptConfig) -> None:
    """The user's files exist before the run directory is made: a mistyped path leaves no
    half-made run behind (one that a corrected command would then resume)."""
    from alignsql.serve.asker import database_map
    database_map([cfg.db])
    for what in ("workload", "test"):
        path = getattr(cfg, what)
        if path is not None and not Path(path).is_file():
            raise AlignSQLError(f"--{what} {path}: file not found")


def adapt(cfg: AdaptConfig, log: Callable[[str], None] = lambda _: None) -> dict:
    check_inputs(cfg)
    run = Run(cfg, log)
    config.save(cfg, run.out / "config.yaml")
    results = steps(run, log)
    summary = {"out": str(run.out), "model": cfg.model, "db": str(run.db),
               "tuned_model": results["train"]["merged"],
               "test_is_synthetic": results["evaluate"]["test_is_synthetic"],
               **{k: results["evaluate"][k] for k in ("n", "ex_untuned", "ex_tuned", "diff",
                                                      "ci", "p_value")},
               "stage_s": {k: v.get("seconds") for k, v in results.items()},
               "report": str(run.out / "report.html")}
    (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
