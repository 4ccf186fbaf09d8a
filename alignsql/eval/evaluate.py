"""Execution-accuracy evaluation: per-example records and a summary; nothing is printed.

Examples are grouped by database and scored in worker processes (each keeps its read-only
connections). Gold results are computed once per (database file, query) and cached on disk;
per-example records stream to a JSONL file so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import pickle
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sqlglot.errors import TokenError

from alignsql.data.example import Example
from alignsql.eval.compare import results_match, tree_orders
from alignsql.eval.executor import ExecResult, execute
from alignsql.paths import fingerprint, home
from alignsql.sql import hardness as hardness_mod
from alignsql.sql.template import fallback_tokens, from_tree, parse_tokens, tokenize

EVAL_VERSION = "2"
"""Stamped on every output; bump when scoring semantics change so numbers are not mixed.
2: a gold result cut at max_rows is not scored (gold_error truncated), a cut prediction is
wrong; gold results are cached per (query, max_rows, timeout)."""
TRUNCATED = "truncated"

CORRECT, WRONG, PRED_ERROR, GOLD_ERROR, MISSING_DB, MISSING_PRED = (
    "correct", "wrong", "pred_error", "gold_error", "missing_db", "missing_pred")


@dataclass
class ExampleResult:
    id: str
    db_id: str
    status: str
    """correct, wrong, pred_error, missing_pred (scored); gold_error, missing_db (not scored)."""
    pred_sql: str | None
    gold_sql: str
    pred_error: str | None = None
    pred_message: str = ""
    gold_error: str | None = None
    hardness: str = ""
    difficulty: str = ""
    template_match: bool = False
    pred_elapsed: float = 0.0
    gold_elapsed: float = 0.0
    ves_ratio: float | None = None

    @property
    def scored(self) -> bool:
        return self.status not in (GOLD_ERROR, MISSING_DB)


@dataclass
class Task:
    example: Example
    pred: str | None
    db: str | None


@dataclass
class EvalOptions:
    timeout: float = 10.0
    max_rows: int = 100_000
    ves: bool = False
    ves_repeats: int = 10
    float_digits: int = 6


_GOLD: dict[tuple[str, str], ExecResult] = {}  # filled before forking; workers inherit it


def _gold(db: str, sql: str, opts: EvalOptions, fresh: dict) -> ExecResult:
    # everything that changes a gold result is in the key: a cached result of a run with
    # fewer rows or a shorter timeout must not be reused by another
    key = (db, sql, opts.max_rows, opts.timeout)
    res = _GOLD.get(key) or fresh.get(key)
    if res is None:
        res = fresh[key] = execute(db, sql, opts.timeout, opts.max_rows)
    return res


def _mean_time(db: str, sql: str, repeats: int, timeout: float) -> float:
    """BIRD's VES timing: repeated runs, outliers beyond 3 standard deviations dropped."""
    times = [execute(db, sql, timeout).elapsed for _ in range(repeats)]
    mean = sum(times) / len(times)
    sd = math.sqrt(sum((t - mean) ** 2 for t in times) / len(times))
    kept = [t for t in times if abs(t - mean) <= 3 * sd] or times
    return sum(kept) / len(kept)


@dataclass(frozen=True)
class Analysis:
    template: tuple[str, ...]
    ordered: bool
    hardness: str


MAX_ANALYZE_CHARS = 20_000
"""Longer SQL is not parsed: sqlglot took 18-47 s and 776 MB on a 1 MB prediction, outside
any deadline; 20,000 characters of adversarial SQL parse in well under 0.1 s."""


@lru_cache(maxsize=20_000)
def analyze(sql: str, dialect: str) -> Analysis:
    """One parse per query for its template, whether its order matters, and its hardness."""
    if len(sql) > MAX_ANALYZE_CHARS:
        return Analysis((), False, "")
    try:
        tokens = tokenize(sql, dialect)
    except (TokenError, RecursionError):
        return Analysis((), False, "")
    tree = parse_tokens(sql, tokens, dialect)
    if tree is None:
        return Analysis(fallback_tokens(tokens), False, "")
    return Analysis(from_tree(tree, tokens), tree_orders(tree),
                    hardness_mod.from_tree(tree) or "")


def score(task: Task, opts: EvalOptions, fresh: dict) -> ExampleResult:
    ex = task.example
    info = analyze(ex.sql, ex.dialect)
    res = ExampleResult(ex.id, ex.db_id, WRONG, task.pred, ex.sql,
                        hardness=ex.hardness or info.hardness, difficulty=ex.difficulty)
    if task.db is None:
        res.status = MISSING_DB
        return res
    gold = _gold(task.db, ex.sql, opts, fresh)
    res.gold_elapsed = gold.elapsed
    if not gold.ok or gold.truncated:  # a cut gold result cannot decide equality
        res.status, res.gold_error = GOLD_ERROR, gold.error or TRUNCATED
        return res
    if task.pred is None:
        res.status = MISSING_PRED
        return res
    res.template_match = analyze(task.pred, ex.dialect).template == info.template
    pred = execute(task.db, task.pred, opts.timeout, opts.max_rows)
    res.pred_elapsed = pred.elapsed
    if not pred.ok:
        res.status, res.pred_error, res.pred_message = PRED_ERROR, pred.error, pred.message
        return res
    if pred.truncated:  # cut at max_rows: more rows than the whole gold result, never equal
        res.pred_error = TRUNCATED
        return res
    if results_match(gold.rows, pred.rows, info.ordered, opts.float_digits):
        res.status = CORRECT
        if opts.ves:
            t_gold = _mean_time(task.db, ex.sql, opts.ves_repeats, opts.timeout)
            t_pred = _mean_time(task.db, task.pred, opts.ves_repeats, opts.timeout)
            res.ves_ratio = math.sqrt(t_gold / t_pred) if t_pred > 0 else 1.0
    return res


def _score_chunk(args: tuple[list[Task], EvalOptions]) -> tuple[list[ExampleResult], dict]:
    tasks, opts = args
    fresh: dict = {}
    return [score(t, opts, fresh) for t in tasks], fresh


def _gold_cache_file(db: str) -> Path:
    path = home() / "cache" / "gold"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{fingerprint(Path(db), EVAL_VERSION)}.pkl"


def _load_gold(dbs: Iterable[str]) -> None:
    for db in dbs:
        f = _gold_cache_file(db)
        if f.exists():
            try:
                _GOLD.update(pickle.loads(f.read_bytes()))
            except (pickle.UnpicklingError, EOFError):
                f.unlink(missing_ok=True)


def _store_gold(fresh: dict) -> None:
    by_db: dict[str, dict] = defaultdict(dict)
    for key, res in fresh.items():
        by_db[key[0]][key] = res
    for db, entries in by_db.items():
        f = _gold_cache_file(db)
        known = {k: v for k, v in _GOLD.items() if k[0] == db}
        tmp = f.with_name(f"{f.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")  # per writer
        tmp.write_bytes(pickle.dumps({**known, **entries}, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(f)
        _GOLD.update(entries)


def _chunks(tasks: list[Task], workers: int) -> list[list[Task]]:
    """Whole databases per chunk where possible (connection reuse), about 4 chunks a worker."""
    by_db: dict[str | None, list[Task]] = defaultdict(list)
    for t in tasks:
        by_db[t.db].append(t)
    size = max(20, math.ceil(len(tasks) / max(1, workers * 4)))
    chunks: list[list[Task]] = []
    for group in sorted(by_db.values(), key=len, reverse=True):
        for i in range(0, len(group), size):
            chunks.append(group[i:i + size])
    return chunks


def run_tasks(tasks: list[Task], opts: EvalOptions, workers: int = 2,
              on_results: Callable[[list[ExampleResult]], None] | None = None,
              progress: bool = False, ray: str | None = None) -> list[ExampleResult]:
    """Score tasks in chunks of whole databases: here, in ``workers`` forked processes, or as
    Ray tasks over a cluster (``ray``: an address, or local)."""
    _load_gold({t.db for t in tasks if t.db})
    results: list[ExampleResult] = []
    fresh_all: dict = {}
    pool = None
    if ray:
        from alignsql import cluster
        n, _, _ = cluster.slots(cluster.connect(ray))
        chunks = [(c, opts) for c in _chunks(tasks, n)]
        mapped = (r for _, r in cluster.ray_map(_score_chunk, chunks, ray))
    elif workers <= 1 or len(tasks) < 50:
        chunks = [(c, opts) for c in _chunks(tasks, workers)]
        mapped = map(_score_chunk, chunks)
    else:
        chunks = [(c, opts) for c in _chunks(tasks, workers)]
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
        mapped = pool.map(_score_chunk, chunks)
    try:
        bar = _bar(len(tasks), progress)
        for chunk_results, fresh in mapped:
            results.extend(chunk_results)
            fresh_all.update(fresh)
            if on_results:
                on_results(chunk_results)
            if bar:
                bar.update(len(chunk_results))
        if bar:
            bar.close()
    finally:
        if pool:
            pool.shutdown()
    if fresh_all:
        _store_gold(fresh_all)
    return results


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="evaluating", unit="q")


@dataclass
class Summary:
    n: int
    n_scored: int
    ex: float
    valid: float
    template_match: float
    by_hardness: dict = field(default_factory=dict)
    by_difficulty: dict = field(default_factory=dict)
    by_db: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    """Counts of every non-correct status and prediction error category."""
    ves: float | None = None
    extra_predictions: int = 0
    version: str = EVAL_VERSION


def _breakdown(results: Sequence[ExampleResult], key: Callable[[ExampleResult], str]) -> dict:
    groups: dict[str, list[ExampleResult]] = defaultdict(list)
    for r in results:
        if r.scored and key(r):
            groups[key(r)].append(r)
    return {k: {"n": len(v), "ex": sum(r.status == CORRECT for r in v) / len(v)}
            for k, v in sorted(groups.items(), key=lambda kv: _natural(kv[0]))}


LEVELS = ("easy", "medium", "hard", "extra", "simple", "moderate", "challenging")
"""Spider's hardness and BIRD's difficulty levels, in their natural order."""


def _natural(key: str) -> tuple[int, str]:
    return (LEVELS.index(key) if key in LEVELS else len(LEVELS), key)


def summarize(results: Sequence[ExampleResult], extra_predictions: int = 0,
              ves: bool = False) -> Summary:
    scored = [r for r in results if r.scored]
    n_scored = len(scored)
    correct = sum(r.status == CORRECT for r in scored)
    valid = sum(r.status in (CORRECT, WRONG) for r in scored)
    errors = Counter(r.status for r in results if r.status != CORRECT)
    errors.update(f"pred_error:{r.pred_error}" for r in results if r.pred_error)
    errors.update(f"gold_error:{r.gold_error}" for r in results if r.gold_error)
    frac = (lambda k: k / n_scored) if n_scored else (lambda k: 0.0)
    return Summary(
        n=len(results), n_scored=n_scored, ex=frac(correct), valid=frac(valid),
        template_match=frac(sum(r.template_match for r in scored)),
        by_hardness=_breakdown(results, lambda r: r.hardness),
        by_difficulty=_breakdown(results, lambda r: r.difficulty),
        by_db=_breakdown(results, lambda r: r.db_id), errors=dict(sorted(errors.items())),
        ves=(sum(r.ves_ratio or 0.0 for r in scored) / n_scored if ves and n_scored else None),
        extra_predictions=extra_predictions)


def _read_done(path: Path, preds: dict[str, str | None]) -> dict[str, ExampleResult]:
    """Records of an earlier run whose prediction is unchanged (a torn last line is ignored)."""
    done: dict[str, ExampleResult] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            rec = ExampleResult(**json.loads(line))
        except (json.JSONDecodeError, TypeError):
            continue
        if rec.id in preds and preds[rec.id] == rec.pred_sql:
            done[rec.id] = rec
    return done


def evaluate(examples: Sequence[Example], predictions: dict[str, str | None],
             db_paths: dict[str, Path | None], opts: EvalOptions | None = None,
             workers: int = 2, results_path: str | Path | None = None, extra_predictions: int = 0,
             progress: bool = False, ray: str | None = None) -> tuple[list[ExampleResult], Summary]:
    """Score ``predictions`` (example id -> SQL or None) on ``examples`` by execution."""
    opts = opts or EvalOptions()
    done = _read_done(Path(results_path), predictions) if results_path else {}
    tasks = [Task(e, predictions.get(e.id),
                  str(db_paths[e.db_id]) if db_paths.get(e.db_id) else None)
             for e in examples if e.id not in done]
    sink = None
    if results_path:
        path = Path(results_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if done:  # rewrite without stale or torn lines, then append new records
            path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in done.values()))
        elif path.exists():
            path.unlink()
        fh = open(path, "a")

        def sink(batch: list[ExampleResult]) -> None:
            fh.writelines(json.dumps(asdict(r)) + "\n" for r in batch)
            fh.flush()
    try:
        new = run_tasks(tasks, opts, workers, sink, progress, ray)
    finally:
        if results_path:
            fh.close()
    by_id = {**done, **{r.id: r for r in new}}
    results = [by_id[e.id] for e in examples]
    return results, summarize(results, extra_predictions, opts.ves)
