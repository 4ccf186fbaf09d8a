"""``alignsql eval``: load a dataset and predictions, evaluate, write the outputs."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from alignsql import config
from alignsql.data import registry
from alignsql.data.predictions import read_predictions
from alignsql.errors import AlignSQLError
from alignsql.eval.evaluate import EvalOptions, ExampleResult, Summary, evaluate
from alignsql.eval.render import write_reports


@dataclass
class EvalConfig:
    dataset: str = "spider:dev"
    """Dataset spec whose gold SQL and databases score the predictions."""
    preds: str | None = None
    """Predictions: JSONL (id + sql, or sql by line order) or one SQL per line (.sql/.txt)."""
    gold_as_pred: bool = False
    """Score the gold SQL against itself (a self-check: must give EX = 1.0)."""
    limit: int | None = None
    """Only the first N examples."""
    only_predicted: bool = False
    """Score only the examples that have a prediction (for predictions on a sample)."""
    workers: int = 2
    """Worker processes."""
    timeout: float = 10.0
    """Seconds a single query may run before it is interrupted."""
    max_rows: int = 100_000
    """Rows kept per result (more are dropped and the result flagged)."""
    ves: bool = False
    """Also compute BIRD's valid efficiency score (times correct queries repeatedly)."""
    ves_repeats: int = 10
    """Runs per query for VES timing."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""
    out: str | None = None
    """Folder for results.jsonl, summary.json, report.md, report.html and config.yaml; an
    existing results.jsonl is resumed. With --compare: compare.json, compare.md, compare.html."""
    compare: list[str] = field(default_factory=list)
    """Two systems to compare on the same questions, paired (give it twice: A, then B): each
    a predictions file or an eval's results.jsonl. Prints EX of each, B - A with a paired
    bootstrap 95% interval, the exact McNemar p-value and the flipped questions."""
    n_boot: int = 10_000
    """Bootstrap resamples of the paired interval (--compare)."""
    seed: int = 0
    """Seed of the bootstrap (--compare)."""
    ray: str | None = None
    """Score over a Ray cluster instead of local workers, whole databases per task: local
    (start one here), auto (this machine's cluster) or ray://HOST:PORT."""

    def __post_init__(self) -> None:
        if not 0 < self.timeout < float("inf"):  # also refuses NaN
            raise AlignSQLError("timeout must be a positive number of seconds")
        if self.max_rows < 1:
            raise AlignSQLError("max_rows must be at least 1")
        config.at_least(self, n_boot=1, ves_repeats=1, workers=1, limit=1)


def run_eval(cfg: EvalConfig, progress: bool = False) -> tuple[list[ExampleResult], Summary]:
    if not cfg.preds and not cfg.gold_as_pred:
        raise AlignSQLError("give --preds FILE or --gold-as-pred")
    ds = registry.load(cfg.dataset, cfg.data_root)
    examples = ds.examples[: cfg.limit] if cfg.limit else ds.examples
    if not examples:
        raise AlignSQLError(f"dataset {cfg.dataset} has no examples")
    extra = 0
    if cfg.gold_as_pred:
        preds: dict[str, str | None] = {e.id: e.sql for e in examples}
        read_counts: dict = {}
    else:
        loaded = read_predictions(cfg.preds)
        if cfg.only_predicted:
            if loaded.ordered:
                raise AlignSQLError(f"{cfg.preds}: --only-predicted needs an 'id' on every line")
            examples = [e for e in examples if e.id in loaded.by_id]
        preds, extra = loaded.for_examples(list(examples))
        read_counts = dict(loaded.counts)
    db_paths = {db: ds.db_path(db) for db in {e.db_id for e in examples}}
    out = Path(cfg.out) if cfg.out else None
    opts = EvalOptions(cfg.timeout, cfg.max_rows, cfg.ves, cfg.ves_repeats)
    results, summary = evaluate(examples, preds, db_paths, opts, cfg.workers,
                                out / "results.jsonl" if out else None, extra, progress, cfg.ray)
    summary.errors.update({f"read:{k}": v for k, v in read_counts.items()})
    if out:
        (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2))
        write_reports(results, summary, cfg.dataset, out)
        config.save(cfg, out / "config.yaml")
    return results, summary
