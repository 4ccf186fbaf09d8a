"""``alignsql synth``: verified, iterative synthesis of (question, SQL) pairs on a database
(SPFT-SQL stage 1).

Per round r: sample typed templates (by frequency, uniformly, or steered toward a target),
fill them on each database, keep what passes the execution filter, have a model write the
questions, keep the pairs that survive the round trip, and split off a synthetic validation
set. With an SFT config, the text-to-SQL model is then fine-tuned on real + synthetic data,
evaluated on the validation split by execution, and the templates it failed on are sampled
more in round r + 1. Everything lands in the run directory:

    <out>/config.yaml  round<r>.jsonl  round<r>_val.jsonl  round<r>.json  model_r<r>/  summary.json
"""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alignsql import config
from alignsql.data.splits import record_steering
from alignsql.errors import AlignSQLError
from alignsql.synth.config import SynthConfig, resolved_mode
from alignsql.synth.databases import Database, databases
from alignsql.synth.engine import FILTERS, Synthesis, synthesize
from alignsql.synth.pool import build_pool, weights
from alignsql.synth.sql2text import Pair, model_answerer, round_trip, write_questions


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line from a killed run
    return rows


def _append(path: Path, rec: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def _synth_db(job: tuple) -> tuple[str, Synthesis]:
    """One database's verified queries (a Ray task, or a call here): its own seeded stream, so
    the result does not depend on which databases ran before it or where."""
    pool, w, d, share, seed, r, max_attempts, timeout = job
    rng = random.Random(f"{seed}:{r}:{d.db_id}")
    return d.db_id, synthesize(pool, w, d.schema, d.path, share, rng,
                               max_attempts=max_attempts * share, timeout=timeout, round_=r)


def candidates(cfg: SynthConfig, r: int, pool, w, dbs: list[Database], out: Path
               ) -> tuple[list[Pair], dict]:
    """The round's verified queries (cached in round<r>_sql.jsonl) and the filter counts;
    databases in turn, or as Ray tasks over a cluster (``ray``)."""
    cache, counts = out / f"round{r}_sql.jsonl", out / f"round{r}_filters.json"
    by_id = {d.db_id: d for d in dbs}
    if not cache.exists():
        jobs = [(pool, w, d, cfg.n // len(dbs) + (i < cfg.n % len(dbs)), cfg.seed, r,
                 cfg.max_attempts, cfg.timeout) for i, d in enumerate(dbs)]
        if cfg.ray:
            from alignsql import cluster
            found = dict(res for _, res in cluster.ray_map(_synth_db, jobs, cfg.ray))
        else:
            found = dict(map(_synth_db, jobs))
        total, rows = Synthesis(), []
        for d in dbs:  # database order, wherever each ran
            syn = found[d.db_id]
            total.attempts += syn.attempts
            total.passed.update(syn.passed)
            total.dropped.update(syn.dropped)
            rows += [{**k, "db_id": d.db_id} for k in syn.kept]
        cache.write_text("".join(json.dumps(x) + "\n" for x in rows))
        counts.write_text(json.dumps({"attempts": total.attempts, "passed": dict(total.passed),
                                      "dropped": dict(total.dropped),
                                      "acceptance": total.acceptance()}, indent=2))
    pairs = [Pair(x["sql"], x["db_id"], by_id[x["db_id"]].path, by_id[x["db_id"]].schema, x)
             for x in _jsonl(cache)]
    return pairs, json.loads(counts.read_text())


def _bar(progress: bool, total: int, done: int, desc: str):
    """A progress bar with rate and ETA on stderr when the caller (the CLI) asks for one."""
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=done, desc=desc, unit="q")


def add_questions(cfg: SynthConfig, r: int, pairs: list[Pair], out: Path, log,
                  progress: bool = False) -> None:
    """Fill each pair's question, appending to round<r>_questions.jsonl (resumed)."""
    path = out / f"round{r}_questions.jsonl"
    done = {x["i"]: x["question"] for x in _jsonl(path)}
    todo = [i for i in range(len(pairs)) if i not in done]
    if todo:
        from alignsql.models.engines import shared_engine
        lm = (sql2text_writer(cfg, out, log) if cfg.train_sql2text
              else shared_engine(cfg.backend, cfg.sql2text_model, cfg.dtype, log=log))
        subset = [pairs[i] for i in todo]
        bar = _bar(progress, len(pairs), len(pairs) - len(todo), f"round {r}: questions")

        def saved(k: int) -> None:
            _append(path, {"i": todo[k], "question": subset[k].question})
            if bar:
                bar.update()
        write_questions(lm, subset, slots=cfg.batch_size, on_done=saved)
        if bar:
            bar.close()
        done.update({todo[k]: subset[k].question for k in range(len(todo))})
    for i, p in enumerate(pairs):
        p.question = done[i]


def check_round_trip(cfg: SynthConfig, r: int, pairs: list[Pair], out: Path, log,
                     progress: bool = False) -> list[bool]:
    """Round-trip verdicts (the text-to-SQL model's answers cached in round<r>_answers.jsonl)."""
    path = out / f"round{r}_answers.jsonl"
    done = {x["i"]: x["sql"] for x in _jsonl(path)}
    todo = [i for i in range(len(pairs)) if i not in done]
    if todo:
        from alignsql.models.engines import shared_engine
        lm = shared_engine(cfg.backend, cfg.text2sql_model, cfg.dtype, log=log)
        subset = [pairs[i] for i in todo]
        bar = _bar(progress, len(pairs), len(pairs) - len(todo), f"round {r}: round trip")

        def saved(k: int, sql: str) -> None:
            _append(path, {"i": todo[k], "sql": sql})
            if bar:
                bar.update()
        answers = model_answerer(lm, cfg.batch_size)(subset, saved)
        if bar:
            bar.close()
        done.update({todo[k]: answers[k] for k in range(len(todo))})
    return round_trip(pairs, lambda ps: [done[i] for i in range(len(ps))], cfg.timeout)


def sql2text_writer(cfg: SynthConfig, out: Path, log):
    """The question writer fine-tuned on (SQL -> question) pairs of the template source (the
    SFT trainer with these records; cached in <out>/sql2text/)."""
    from alignsql.data import registry
    from alignsql.models.loading import load
    from alignsql.synth.sql2text import training_records
    from alignsql.train.config import SFTConfig
    from alignsql.train.data import TrainingData, tokenize
    from alignsql.train.sft import fit, save

    merged = out / "sql2text" / "merged"
    if not merged.exists():
        ds = registry.load(cfg.templates_from, cfg.data_root)
        rows = [e for e in ds.examples
                if e.db_id in ds.schemas and e.question][:cfg.sql2text_train_size]
        sft = SFTConfig(name="sql2text", output_dir=str(out), model=cfg.sql2text_model,
                        method="lora", max_steps=max(len(rows) // 4, 1), max_length=1024,
                        seed=cfg.seed, merge=True)
        lm = load(sft.model, dtype="fp32")
        recs = training_records([(e, ds.schemas[e.db_id]) for e in rows], lm.tokenizer)
        recs = tokenize(recs, lm.tokenizer, sft.max_length, Counter(), "sql2text")
        run = out / "sql2text"
        run.mkdir(parents=True, exist_ok=True)
        config.save(sft, run / "config.yaml")
        trainer, _, _ = fit(sft, run, lm, TrainingData(recs, [], {cfg.templates_from: len(recs)}),
                            resume=False)
        save(sft, run, trainer, lm)
    from alignsql.models.engines import shared_engine
    return shared_engine(cfg.backend, str(merged), cfg.dtype, log=log)


def split_and_write(cfg: SynthConfig, r: int, pairs: list[Pair], verdicts: list[bool],
                    out: Path) -> tuple[Path, Path, Counter]:
    """round<r>.jsonl (training) and round<r>_val.jsonl, records loadable as a dataset."""
    dropped: Counter = Counter()
    rows = []
    for i, (p, ok) in enumerate(zip(pairs, verdicts)):
        if cfg.questions and not p.question:
            dropped["no question written"] += 1
        elif cfg.round_trip and not ok:
            dropped["round trip: different result"] += 1
        else:
            checks = list(FILTERS) + (["question"] if cfg.questions else []) + (
                ["round_trip"] if cfg.questions and cfg.round_trip else [])
            rows.append({"id": f"r{r}-{i}", "question": p.question, "sql": p.sql,
                         "db_id": p.db_id, "db_path": str(p.db_path.resolve()),
                         "template_id": p.meta["template_id"], "template": p.meta["template"],
                         "round": r, "checks": checks})
    random.Random(f"{cfg.seed}:{r}:split").shuffle(rows)
    n_val = round(len(rows) * cfg.val_fraction)
    train, val = out / f"round{r}.jsonl", out / f"round{r}_val.jsonl"
    train.write_text("".join(json.dumps(x) + "\n" for x in rows[n_val:]))
    val.write_text("".join(json.dumps(x) + "\n" for x in rows[:n_val]))
    if resolved_mode(cfg) == "steered":  # training on these then refuses to evaluate on it
        for path in (train, val):
            record_steering(path, [cfg.target])
    return train, val, dropped


def train_round(cfg: SynthConfig, r: int, out: Path, synth: list[Path], log) -> str:
    """Fine-tune on the real data plus every synthetic round so far; the merged model path."""
    from alignsql.train.config import SFTConfig
    from alignsql.train.sft import train

    sizes = [len(_jsonl(f)) for f in synth]
    sft = config.load_yaml(SFTConfig, cfg.sft, [*cfg.sft_overrides, f"name=model_r{r}",
                                                f"output_dir={out}"])
    sft.train = list(cfg.real) + [f"file:{f.resolve()}" for f in synth if _jsonl(f)]
    sft.train_size = list(cfg.real_size) + [n for n in sizes if n]
    sft.eval, sft.merge, sft.data_root = None, True, cfg.data_root
    summary = train(sft, resume=(out / f"model_r{r}" / "checkpoints").exists(), log=log)
    return summary["merged"]


def validate(cfg: SynthConfig, model: str, val: Path, out: Path) -> tuple[float, Counter]:
    """EX of ``model`` on the synthetic validation split, and failures per template."""
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict

    rows = _jsonl(val)
    if not rows:
        return float("nan"), Counter()
    preds = out / f"{Path(model).parent.name}_val_preds.jsonl"
    run_predict(PredictConfig(model=model, dataset=f"file:{val}", out=str(preds),
                              batch_size=cfg.batch_size, dtype=cfg.dtype))
    results, summary = run_eval(EvalConfig(dataset=f"file:{val}", preds=str(preds),
                                           only_predicted=True))
    template = {x["id"]: x["template"] for x in rows}
    failures = Counter(template[res.id] for res in results if res.status != "correct")
    return summary.ex, failures


def run_round(cfg: SynthConfig, r: int, ctx: dict, log) -> dict:
    out, pool = ctx["out"], ctx["pool"]
    clock = _Clock(out / f"round{r}_seconds.json")
    w = weights(pool, resolved_mode(cfg), ctx["target"], ctx["failures"], cfg.failure_boost)
    pairs, filters = clock("sql", candidates, cfg, r, pool, w, ctx["dbs"], out)
    log(f"round {r}: {len(pairs)} verified queries ({filters['attempts']} candidates)")
    if cfg.questions:
        clock("questions", add_questions, cfg, r, pairs, out, log, ctx["progress"])
    verdicts = (clock("round_trip", check_round_trip, cfg, r, pairs, out, log, ctx["progress"])
                if cfg.questions and cfg.round_trip else [True] * len(pairs))
    train, val, dropped = split_and_write(cfg, r, pairs, verdicts, out)
    stats = {"round": r, "verified_sql": len(pairs), "filters": filters,
             "pairs": len(_jsonl(train)) + len(_jsonl(val)), "dropped_after_sql": dict(dropped),
             "round_trip_pass": sum(verdicts) / len(verdicts) if verdicts else 0.0,
             "train": str(train), "val": str(val)}
    ctx["synth"].append(train)
    if cfg.sft:
        model = clock("train", train_round, cfg, r, out, ctx["synth"], log)
        ex, failures = clock("validate", validate, cfg, model, val, out)
        stats.update(model=model, val_ex=ex, failures=dict(failures))
    stats["seconds"] = clock.seconds
    return stats


class _Clock:
    """Wall time per phase, kept in ``path`` after each phase so that a killed round, resumed,
    adds the finished phases' time to what it redoes (a phase killed midway loses the time it
    had spent; its kept output is then done faster, so its rate reads high)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}

    def __call__(self, name: str, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        self.path.write_text(json.dumps(self.seconds))
        return result


def _target_profile(cfg: SynthConfig):
    from alignsql.align.run import profile_spec, sample
    return sample(profile_spec(cfg.target, cfg.data_root), cfg.target_limit, cfg.seed)


def run_synth(cfg: SynthConfig, log: Callable[[str], None] = lambda _: None,
              progress: bool = False) -> dict:
    """All rounds (a finished round's round<r>.json is reused, so a killed run resumes);
    ``progress``: bars with rate and ETA on stderr for question writing and the round trip."""
    from alignsql.data import registry

    dbs = databases(cfg.db, cfg.data_root)  # a missing database fails before anything is written
    pool = build_pool(registry.load(cfg.templates_from, cfg.data_root))
    if not pool.templates:
        raise AlignSQLError(f"{cfg.templates_from}: no query could be turned into a template "
                            f"({dict(pool.skipped)})")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    config.save(cfg, out / "config.yaml")
    ctx = {"out": out, "pool": pool, "dbs": dbs, "synth": [],
           "failures": Counter(), "progress": progress,
           "target": _target_profile(cfg) if resolved_mode(cfg) == "steered" else None}
    rounds = []
    for r in range(1, cfg.rounds + 1):
        done = out / f"round{r}.json"
        if done.exists():  # finished earlier: its data joins the later rounds' training
            stats = json.loads(done.read_text())
            ctx["synth"].append(Path(stats["train"]))
        else:
            stats = run_round(cfg, r, ctx, log)
            done.write_text(json.dumps(stats, indent=2))
        ctx["failures"] = Counter(stats.get("failures", {}))
        rounds.append(stats)
    summary = {"mode": resolved_mode(cfg), "templates": len(pool.templates),
               "templates_skipped": dict(pool.skipped), "databases": len(ctx["dbs"]),
               "rounds": rounds}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
