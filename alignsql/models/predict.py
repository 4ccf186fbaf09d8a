"""``alignsql predict``: prompts for a dataset, batched generation, SQL extraction, streamed to
JSONL (one record per example, with its id), resumable, with a throughput summary."""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from alignsql import config
from alignsql.data import registry
from alignsql.data.example import Dataset, Example, Schema
from alignsql.data.schema import from_sqlite
from alignsql.errors import AlignSQLError
from alignsql.models.extract import extract_sql
from alignsql.models.generate import GenOptions, Request
from alignsql.models.loading import LoadedModel
from alignsql.models.prompts import Prompt, PromptOptions, build
from alignsql.models.registry import DEFAULT_MODEL


@dataclass
class PredictConfig:
    model: str = DEFAULT_MODEL
    """Registry name (alignsql models list), a model directory, or a Hugging Face id."""
    dataset: str = "spider:dev"
    """Dataset spec whose questions to answer."""
    out: str = "preds.jsonl"
    """Predictions JSONL (resumed if it exists)."""
    limit: int | None = None
    """Answer at most N questions (after --sample)."""
    sample: int | None = None
    """A seeded random sample of N questions (among those with a database if --with-db)."""
    with_db: bool = False
    """Only questions whose SQLite database exists."""
    seed: int = 0
    """Seed of the sample and of sampled generation."""
    batch_size: int = 8
    """Rows decoded together (continuous batching: a finished row's slot goes to the next
    question at once)."""
    num_samples: int = 1
    """Candidates per question (sampled when > 1)."""
    temperature: float = 0.0
    """0 = greedy."""
    max_new_tokens: int = 256
    """Generation budget per candidate."""
    dtype: str = "bf16"
    """bf16, fp32 or fp16."""
    device: str = "auto"
    """auto (CUDA when present), cpu, cuda, ..."""
    sample_values: int | None = None
    """Distinct example values per column in the prompt (default: what the model was
    fine-tuned with, from its prompt.json, else 3)."""
    max_prompt_tokens: int | None = None
    """Prompt token budget (values, then least relevant tables, are dropped to meet it);
    default: the budget the model was fine-tuned with (its prompt.json), else 2048."""
    prefix_cache: bool = True
    """Reuse the KV cache of the prompt part shared by questions on one database."""
    backend: str = "auto"
    """Generation engine: auto (vllm where installed, else hf), hf, vllm, or openai (an
    OpenAI-compatible server at --base-url)."""
    base_url: str | None = None
    """Server of the openai backend, e.g. http://localhost:8000 (vllm serve, llama.cpp)."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""
    ray: str | None = None
    """Split the questions by database over a Ray cluster: local (start one here), auto (the
    cluster this machine is in) or ray://HOST:PORT; one model per GPU (else per CPU)."""

    def __post_init__(self) -> None:
        config.at_least(self, limit=1, sample=1, batch_size=1, num_samples=1, temperature=0,
                        max_new_tokens=1, max_prompt_tokens=32, sample_values=0)
        from alignsql.models.engines import resolve_backend
        resolve_backend(self.backend)
        from alignsql.models.loading import DTYPES
        if self.dtype not in DTYPES:
            raise AlignSQLError(f"dtype (--dtype) must be one of {', '.join(DTYPES)}, "
                                f"not {self.dtype!r}")


def choose_examples(ds: Dataset, cfg: PredictConfig) -> list[Example]:
    examples = [e for e in ds.examples if not cfg.with_db or ds.db_path(e.db_id)]
    if cfg.sample and cfg.sample < len(examples):
        rows = sorted(random.Random(cfg.seed).sample(range(len(examples)), cfg.sample))
        examples = [examples[r] for r in rows]
    return examples[: cfg.limit] if cfg.limit else examples


_SCHEMAS: dict[tuple[str, str, str, int], Schema | None] = {}


def schema_for(ds: Dataset, db_id: str, samples: int) -> Schema | None:
    """The dataset's schema (curated keys), with sample values from its database if present."""
    # keyed by content, not id(ds): a freed dataset's id can be reused by another one
    key = (ds.name, db_id, str(ds.db_paths.get(db_id)), samples)
    if key not in _SCHEMAS:
        _SCHEMAS[key] = _merged_schema(ds, db_id, samples)
    return _SCHEMAS[key]


def _merged_schema(ds: Dataset, db_id: str, samples: int) -> Schema | None:
    path = ds.db_path(db_id)
    base = ds.schemas.get(db_id)
    if path is None:
        return base
    live = from_sqlite(path, db_id, samples=samples)
    if base is None:
        return live
    for table in base.tables:  # keep the curated keys and names, borrow the values
        other = live.table(table.name)
        cols = {c.name.lower(): c for c in (other.columns if other else [])}
        for col in table.columns:
            if col.name.lower() in cols:
                col.samples = cols[col.name.lower()].samples
    return base


def _resume(path: Path) -> tuple[set[str], int]:
    """Ids already answered in ``path``, and how many broken lines were dropped from it.

    A run killed mid-write leaves a torn last line without a newline; appending to it would
    glue the next record onto the fragment. So the file is rewritten (atomically) with its
    complete records only before anything is appended."""
    done: set[str] = set()
    if not path.exists():
        return done, 0
    kept, dropped = [], 0
    for line in path.read_text(errors="replace").splitlines(keepends=True):
        try:
            key = str(json.loads(line)["id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            dropped += 1
            continue
        if line.endswith("\n"):
            done.add(key)
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(kept))
        tmp.replace(path)
    return done, dropped


def _new_stats(examples: list[Example], done: set[str], torn: int) -> dict:
    return {"n": len(examples), "resumed": len(done & {e.id for e in examples}), "answered": 0,
            "empty": 0, "over_budget": 0, "gen_tokens": 0, "seconds": 0.0,
            "dropped_broken_lines": torn}


def _with_rates(stats: dict) -> dict:
    secs = stats["seconds"] or float("nan")
    return {**stats, "qps": stats["answered"] / secs, "tokens_per_s": stats["gen_tokens"] / secs}


def predict(lm, ds: Dataset, examples: list[Example], cfg: PredictConfig,
            out: Path, on_batch=None) -> dict:
    """Answer ``examples`` with an engine (``alignsql.models.engines``; a loaded HF model is
    wrapped in the hf engine), appending records to ``out``; returns counts and throughput."""
    from alignsql.models.engines.hf import HFEngine
    engine = HFEngine.wrap(lm, cfg.prefix_cache) if isinstance(lm, LoadedModel) else lm
    samples = resolved_sample_values(cfg)
    popts = PromptOptions(samples, resolved_budget(cfg))
    gopts = GenOptions(cfg.max_new_tokens, cfg.num_samples, cfg.temperature, seed=cfg.seed)
    done, torn = _resume(out)
    todo = [e for e in examples if e.id not in done]
    prompts = {e.id: build(e, schema_for(ds, e.db_id, samples), engine.tokenizer, popts)
               for e in todo}
    # questions on one schema share a prefix (its KV cache is reused) and are admitted
    # together; similar lengths waste less padding
    todo.sort(key=lambda e: (prompts[e.id].prefix, prompts[e.id].n_tokens))
    stats = _new_stats(examples, done, torn)
    by_id = {e.id: e for e in todo}
    # the prompt is always split at its prefix (the token ids a fine-tuned model was trained
    # on); without prefix_cache the prefix's keys and values are not kept for reuse
    requests = [Request(e.id, prompts[e.id].text, prompts[e.id].prefix) for e in todo]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as fh:
        start = time.perf_counter()
        for key, group in engine.stream(requests, gopts, cfg.batch_size):
            ex = by_id[key]
            rec = _record(ex, prompts[ex.id], group, ds)
            stats["answered"] += 1
            stats["empty"] += not rec["sql"]
            stats["over_budget"] += prompts[ex.id].over_budget
            stats["gen_tokens"] += sum(g.n_tokens for g in group)
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            stats["seconds"] = time.perf_counter() - start
            if on_batch:
                on_batch(1, stats)
    return _with_rates(stats)


def _record(ex: Example, prompt: Prompt, group, ds: Dataset) -> dict:
    sqls = [extract_sql(g.text, ex.dialect) for g in group]
    rec = {"id": ex.id, "db_id": ex.db_id, "question": ex.question, "sql": sqls[0],
           "raw": group[0].text, "prompt_tokens": prompt.n_tokens,
           "gen_tokens": sum(g.n_tokens for g in group)}
    if len(group) > 1:
        rec["candidates"] = sqls
    if prompt.dropped_tables:
        rec["dropped_tables"] = prompt.dropped_tables
    if prompt.over_budget:
        rec["over_budget"] = True
    return rec


def resolved_sample_values(cfg: PredictConfig) -> int:
    if cfg.sample_values is not None:
        return cfg.sample_values
    return int(prompt_defaults(cfg.model).get("sample_values", 3))


def resolved_budget(cfg: PredictConfig) -> int:
    if cfg.max_prompt_tokens is not None:
        return cfg.max_prompt_tokens
    return int(prompt_defaults(cfg.model).get("max_prompt_tokens", 2048))


def prompt_defaults(model: str) -> dict:
    """Prompt settings a fine-tuned model was trained with (``prompt.json`` beside it)."""
    path = Path(model) / "prompt.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def run_predict(cfg: PredictConfig, progress: bool = False, log=lambda _: None) -> dict:
    if cfg.batch_size < 1 or cfg.num_samples < 1:
        raise AlignSQLError("batch_size and num_samples must be at least 1")
    cfg.sample_values = resolved_sample_values(cfg)
    cfg.max_prompt_tokens = resolved_budget(cfg)
    ds = registry.load(cfg.dataset, cfg.data_root)
    examples = choose_examples(ds, cfg)
    if not examples:
        raise AlignSQLError(f"no questions to answer in {cfg.dataset} with these filters")
    from alignsql.models.engines import check_engine, close, open_engine
    check_engine(cfg.backend, cfg.model, cfg.device, cfg.base_url)  # before --out is touched
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails before loading
    open(out, "a").close()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(examples), desc="predicting", unit="q")
        bar.update(len(_resume(out)[0] & {e.id for e in examples}))

    def on_batch(n: int, stats: dict) -> None:
        if bar:
            bar.update(n)
            bar.set_postfix(qps=f"{stats['answered'] / max(stats['seconds'], 1e-9):.2f}")
    if cfg.ray:
        stats = predict_on_ray(cfg, examples, out, on_batch)
    else:
        engine = open_engine(cfg.backend, cfg.model, cfg.dtype, cfg.device, cfg.base_url,
                             cfg.prefix_cache, log)
        stats = predict(engine, ds, examples, cfg, out, on_batch)
        stats.update(device=engine.device, backend=engine.name, dtype=engine.dtype)
        close(engine)
    if bar:
        bar.close()
    config.save(cfg, out.with_suffix(".config.yaml"))
    stats.update(model=cfg.model, out=str(out))  # dtype: the engine's, as it ran
    return stats


def _predict_part(job: tuple[dict, list[str], str]) -> dict:
    """One Ray task: the same predict on one part's questions, into its own file."""
    cfg_dict, ids, part_out = job
    from alignsql.models.engines import close, open_engine
    cfg = config.from_dict(PredictConfig, cfg_dict)
    ds = registry.load(cfg.dataset, cfg.data_root)
    wanted = set(ids)
    examples = [e for e in ds.examples if e.id in wanted]
    engine = open_engine(cfg.backend, cfg.model, cfg.dtype, cfg.device, cfg.base_url,
                         cfg.prefix_cache)
    stats = predict(engine, ds, examples, cfg, Path(part_out))
    close(engine)
    return {**stats, "device": engine.device, "backend": engine.name, "dtype": engine.dtype}


def _collect(out: Path, parts: list[Path]) -> None:
    """Append the complete records of finished parts (or an interrupted run's) to ``out``;
    only files no task is still writing."""
    for part in parts:
        _resume(part)  # drops a torn last line
        with open(out, "a") as fh:
            fh.write(part.read_text())
        part.unlink()


def _absolute(cfg: PredictConfig) -> dict:
    """Paths as the driver sees them: a task's working directory is not the driver's."""
    paths = {}
    if Path(cfg.model).exists():
        paths["model"] = str(Path(cfg.model).resolve())
    if cfg.data_root:
        paths["data_root"] = str(Path(cfg.data_root).resolve())
    return paths


def predict_on_ray(cfg: PredictConfig, examples: list[Example], out: Path, on_batch) -> dict:
    """The questions split by database over Ray (``alignsql.cluster``), each part answered by
    ``predict`` in a task with its own model; parts are appended to ``out`` as they finish."""
    from alignsql import cluster
    parts_dir = out.with_name(out.name + ".parts")
    parts_dir.mkdir(exist_ok=True)
    _collect(out, sorted(parts_dir.glob("part*.jsonl")))  # before any task starts
    done, torn = _resume(out)
    todo = [e for e in examples if e.id not in done]
    n, cpus, gpus = cluster.slots(cluster.connect(cfg.ray))
    parts = cluster.by_database(todo, lambda e: e.db_id, n)
    job = {**config.to_dict(cfg), "ray": None, **_absolute(cfg)}
    jobs = [(job, [e.id for e in part], str((parts_dir / f"part{i}.jsonl").resolve()))
            for i, part in enumerate(parts)]
    stats = {**_new_stats(examples, done, torn), "ray_tasks": len(jobs), "device": "",
             "backend": "", "dtype": ""}
    start = time.perf_counter()
    for i, part in cluster.ray_map(_predict_part, jobs, cfg.ray, cpus, gpus):
        _collect(out, [Path(jobs[i][2])])
        for key in ("answered", "empty", "over_budget", "gen_tokens"):
            stats[key] += part[key]
        stats.update(device=part["device"], backend=part["backend"], dtype=part["dtype"],
                     seconds=time.perf_counter() - start)
        on_batch(part["answered"], stats)
    parts_dir.rmdir()
    return _with_rates(stats)
