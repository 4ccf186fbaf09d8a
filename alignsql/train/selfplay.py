"""Self-play fine-tuning with an execution-judged, error-driven loss (SPFT-SQL stage 2), and
the SPIN and DPO baselines in the same code path.

    rank the pool on the validation set (EX)  ->  main = best, opponent = worst
    -> the opponent samples k SQL per training question; each is executed: R = 1 if its result
       differs from the gold's (wrong), 0 if it matches
    -> LoRA on main with L = E[ l(lam r(y_gold) - R(y') lam r(y')) ],  r = log p_main - log p_opp
    -> the new main joins the pool; repeat (stop when validation EX stops improving)

SPIN: every sample counts as wrong and the opponent is the previous iteration (the current
main). DPO: only execution-wrong samples, reference = the starting main. Opponent
log-probabilities are computed once per iteration (the opponent is frozen) on the trainer's
own tokenisation; training runs on transformers' Trainer over prefix-shared rows (the prompt
once, then gold and the k samples; alignsql.train.preference). Samples are kept as they are
drawn (samples.jsonl), so a killed run resumes sampling where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alignsql.errors import AlignSQLError
from alignsql.train.callbacks import (
    MetricsCallback,
    ProgressCallback,
    peak_rss_mb,
    read_metrics,
    train_seconds,
)
from alignsql.train.checkpoint import (
    kept_for,
    last_checkpoint,
    model_stamp,
    run_dir,
    save_config,
    save_merged,
    write_json,
)
from alignsql.train.config import SelfPlayConfig, SFTConfig, default_prompt_budget, on_device
from alignsql.train.runclock import RunClock


def val_ex(cfg: SelfPlayConfig, model: str, out: Path) -> float:
    """EX on the validation set, cached per model in <run>/val_scores.json."""
    from alignsql.train.sft import evaluate_target

    cache = out / "val_scores.json"
    scores = json.loads(cache.read_text()) if cache.exists() else {}
    if model not in scores:
        folder = out / "val" / f"m{len(scores)}"
        ecfg = SFTConfig(eval=cfg.val, eval_limit=cfg.val_limit, seed=cfg.seed, device=cfg.device,
                         sample_values=cfg.sample_values, data_root=cfg.data_root)
        scores[model] = evaluate_target(ecfg, model, folder)["ex"]
        write_json(cache, scores)
    return scores[model]


def choose(cfg: SelfPlayConfig, scores: dict[str, float], latest: str) -> tuple[str, str, str]:
    """(main, opponent, note); the opponent is the frozen reference of the loss. SPFT: best
    and worst of the pool; SPIN: the latest model plays itself (the previous iteration); DPO:
    the latest model against the starting model (its samples come from the latest model)."""
    if cfg.loss == "spin":
        return latest, latest, "spin: the latest model plays itself (previous iteration)"
    if cfg.loss == "dpo":
        return latest, cfg.pool[-1], "dpo: the latest model, reference = the starting model"
    main = max(scores, key=lambda m: (scores[m], m == latest))
    opp = min(scores, key=lambda m: (scores[m], m != latest))
    if main == opp:
        return main, opp, ("one model in the pool (or all tie): main = opponent, the previous "
                           "iteration plays itself")
    return main, opp, "best and worst of the pool by validation EX"


def training_questions(cfg: SelfPlayConfig, tokenizer, skipped: Counter) -> list[dict]:
    """Prompt (the SFT prompt), gold completion, gold SQL and database per question."""
    from alignsql.data.overlap import exclusion_keys
    from alignsql.train.data import gather, records

    out = []
    exclude = exclusion_keys(cfg.exclude, cfg.data_root) if cfg.exclude else None
    # drawn among the questions with a database: a size means that many that can be judged
    for ex, ds in gather(cfg.train, cfg.train_size, [], None, cfg.seed, cfg.data_root, exclude,
                         skipped, with_db=True):
        db = ds.db_path(ex.db_id)
        # the SFT default prompt budget, as the pool's models were trained
        recs, _ = records([(ex, ds)], tokenizer, default_prompt_budget(cfg.max_length),
                          cfg.sample_values, skipped)
        out += [{**r, "gold": ex.sql, "db": str(db)} for r in recs]
    return out


def judge(gold_sql: str, sql: str, db: str, gold_cache: dict) -> int | None:
    """R(y') = 1 when the sample's result differs from the gold's, 0 when it matches; None
    when the gold itself fails (the example is skipped)."""
    from alignsql.eval.compare import order_matters, results_match
    from alignsql.eval.executor import execute

    if (db, gold_sql) not in gold_cache:
        gold_cache[(db, gold_sql)] = execute(db, gold_sql, timeout_s=10.0)
    gold = gold_cache[(db, gold_sql)]
    if not gold.ok:
        return None
    pred = execute(db, sql, timeout_s=10.0)
    return int(not (pred.ok and results_match(gold.rows, pred.rows, order_matters(gold_sql))))


def build_pairs(cfg: SelfPlayConfig, questions: list[dict], samples: list[list],
                counts: Counter) -> list[dict]:
    """(prompt, gold, sample, R) records for the chosen loss, with counted skips. A sample is
    its extracted SQL or (SQL, raw reply); one with no SQL is a wrong answer (R = 1) whose
    reply is what gets pushed down."""
    from alignsql.models.prompts import completion

    gold_cache: dict = {}
    pairs = []
    for q, answers in zip(questions, samples):
        answers = [a if isinstance(a, tuple) else (a, a) for a in answers]
        verdicts = [(completion(sql), judge(q["gold"], sql, q["db"], gold_cache)) if sql
                    else (completion(raw), 1) for sql, raw in answers]
        counts["unparsable samples (counted wrong)"] += sum(1 for sql, _ in answers if not sql)
        if any(v is None for _, v in verdicts):
            counts["gold fails to execute (question skipped)"] += 1
            continue
        if not verdicts:
            counts["questions without samples"] += 1
            continue
        if all(v == 0 for _, v in verdicts):
            counts["questions whose samples are all correct (no contrast)"] += 1
        for rejected, wrong in verdicts:
            if cfg.loss == "dpo" and not wrong:
                continue  # DPO needs a rejected answer
            pairs.append({"prompt": q["prompt"], "chosen": q["completion"],
                          "rejected": rejected, "id": q["id"],
                          "wrong": 1.0 if cfg.loss == "spin" else float(wrong)})
        counts["samples wrong"] += sum(v for _, v in verdicts)
        counts["samples correct"] += sum(1 - v for _, v in verdicts)
    return pairs


def sample_opponent(cfg: SelfPlayConfig, opponent: str, questions: list[dict],
                    iteration: int = 1, record: Path | None = None,
                    progress: bool = False) -> list[list[tuple[str, str]]]:
    """k samples per question, each (extracted SQL, raw reply), from the opponent (continuous
    batching). The seed moves with the iteration: an opponent kept from one iteration to the
    next (SPFT keeps the pool's worst) would otherwise replay the same samples.

    With ``record``, each question's samples are appended to that JSONL as they finish and the
    questions it already holds are not sampled again: a killed run loses only the questions
    in flight (the resumed ones are drawn in other batches, so not the same draws).
    ``progress``: a bar over questions with ETA on stderr (sampling is the slow part)."""
    from alignsql.models.engines import close, open_engine
    from alignsql.models.extract import extract_sql
    from alignsql.models.generate import GenOptions, Request

    out = recorded_samples(record, questions) if record else [[] for _ in questions]
    todo = [i for i, got in enumerate(out) if not got]
    if not todo:
        return out
    engine = open_engine(cfg.backend, opponent, cfg.dtype, cfg.device)
    opts = GenOptions(cfg.max_new_tokens, cfg.k, cfg.temperature, seed=cfg.seed + iteration - 1)
    reqs = [Request(i, questions[i]["prompt"], questions[i]["prefix"]) for i in todo]
    bar = _bar(progress, len(questions), "sampling", "q", initial=len(questions) - len(todo))
    try:
        with open(record or os.devnull, "a") as f:
            for i, gens in engine.stream(reqs, opts, slots=8):
                out[i] = [(extract_sql(g.text), g.text) for g in gens]
                f.write(json.dumps({"i": i, "id": questions[i]["id"], "samples": out[i]}) + "\n")
                f.flush()
                bar.update(1)
    finally:
        bar.close()
        close(engine)
    return out


def _bar(enabled: bool, total: int, desc: str, unit: str, initial: int = 0):
    """A tqdm bar with ETA on stderr, or one that shows nothing."""
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                disable=not enabled)


def recorded_samples(record: Path, questions: list[dict]) -> list[list[tuple[str, str]]]:
    """The samples ``record`` holds, by question (empty: not sampled yet). A torn last line (a
    kill mid-write) is cut off the file, so that new lines start clean; a record of other
    questions is an error."""
    out: list[list[tuple[str, str]]] = [[] for _ in questions]
    lines = record.read_text().splitlines() if record.exists() else []
    for n, line in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                record.write_text("".join(x + "\n" for x in lines[:n]))
                break
            raise AlignSQLError(f"{record}: line {n + 1} is not JSON; delete the file to sample "
                                "again") from None
        i = row["i"]
        if i >= len(questions) or questions[i]["id"] != row["id"]:
            raise AlignSQLError(f"{record}: line {n + 1} is question {row['id']!r}, not one of "
                                "this run's; delete the file to sample again")
        out[i] = [tuple(s) for s in row["samples"]]
    return out


def _bf16(cfg: SelfPlayConfig, device: str) -> bool:
    """bf16 autocast for main and, alike, the opponent's log-probabilities (where native)."""
    from alignsql.models.loading import compute_dtype
    return compute_dtype(cfg.dtype, device) == "bf16"


def _args(cfg: SelfPlayConfig, folder: Path, device: str):
    from transformers import TrainingArguments
    return TrainingArguments(
        output_dir=str(folder / "checkpoints"), max_steps=cfg.max_steps,
        per_device_train_batch_size=1, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, optim=cfg.optimizer,
        logging_steps=cfg.logging_steps, save_steps=cfg.save_steps, save_total_limit=2,
        bf16=_bf16(cfg, device), seed=cfg.seed, data_seed=cfg.seed,
        report_to=cfg.report_to or "none",
        remove_unused_columns=False, use_cpu=device == "cpu", dataloader_num_workers=0,
        disable_tqdm=True, include_num_input_tokens_seen="all",
        activation_checkpointing=cfg.gradient_checkpointing)


def load_pairs(cfg: SelfPlayConfig, it: int, opponent: str, folder: Path, counts: Counter,
               log, progress: bool = False) -> list[dict]:
    """The iteration's judged pairs (kept in pairs.jsonl: sampling is the slow part)."""
    from alignsql.models.loading import load_tokenizer

    pairs_file = folder / "pairs.jsonl"
    if pairs_file.exists():
        counts.update(json.loads((folder / "counts.json").read_text()))
        return [json.loads(x) for x in pairs_file.read_text().splitlines()]
    # the prompts need only the tokenizer: the model is loaded once, for sampling
    questions = training_questions(cfg, load_tokenizer(opponent), counts)
    log(f"iteration {it}: {opponent} samples {cfg.k} SQL for {len(questions)} questions")
    samples = sample_opponent(cfg, opponent, questions, it, folder / "samples.jsonl", progress)
    pairs = build_pairs(cfg, questions, samples, counts)
    random.Random(f"{cfg.seed}:{it}").shuffle(pairs)
    pairs_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    write_json(folder / "counts.json", dict(counts))
    return pairs


def build_trainer(cfg: SelfPlayConfig, pairs: list[dict], main: str, opponent: str,
                  folder: Path, it: int, progress: bool = False):
    """Main (LoRA or full) against the frozen opponent, one prefix-shared row per question;
    the opponent's log-probabilities are computed once and it is freed."""
    from datasets import Dataset as HFDataset
    from peft import LoraConfig, get_peft_model

    from alignsql.models.loading import load
    from alignsql.train.preference import (
        PreferenceCollator,
        question_groups,
        steps,
        tokenize_group,
        trainer_class,
        with_opponent_logps,
    )

    model = load(main, dtype="fp32", device=cfg.device)
    groups = question_groups(pairs)
    random.Random(f"{cfg.seed}:{it}:groups").shuffle(groups)
    collator = PreferenceCollator(model.tokenizer.pad_token_id, True,
                                  getattr(model.model.config, "_attn_implementation", "sdpa"))
    items = steps([tokenize_group(g, model.tokenizer) for g in groups], cfg.batch_size)
    key = {"opponent": model_stamp(opponent), "bf16": _bf16(cfg, model.device),
           "items": _digest(items)}
    kept = kept_for(folder / "opponent_logps.json", key)
    if kept is None:  # a resumed iteration reads them: 12-25 min on 2 CPU cores
        opp = load(opponent, dtype="fp32", device=cfg.device)
        items = with_opponent_logps(items, opp.model, collator, bf16=key["bf16"],
                                    bar=_bar(progress, len(items), "opponent log-probs", "step"))
        del opp
        write_json(folder / "opponent_logps.json", {**key, "ref": [x["ref"] for x in items]})
    else:
        # floats survive JSON exactly: a resumed run trains on the same numbers
        items = [{**x, "ref": r} for x, r in zip(items, kept["ref"])]
    net = model.model
    if cfg.method == "lora":
        net = get_peft_model(net, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    trainer = trainer_class()(model=net, args=_args(cfg, folder, model.device),
                              train_dataset=HFDataset.from_list(items), data_collator=collator,
                              processing_class=model.tokenizer,
                              callbacks=[MetricsCallback(folder / "metrics.jsonl"),
                                         *([ProgressCallback()] if progress else [])])
    trainer.lam = cfg.lam
    trainer.model_accepts_loss_kwargs = False  # a mean over pairs: divide over accumulation
    return trainer, model.tokenizer, len(groups)


def _digest(items: list[dict]) -> str:
    """What the opponent scored: every step's token ids, positions and members, in order."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()


def iteration(cfg: SelfPlayConfig, it: int, main: str, opponent: str, out: Path,
              resume: bool, log, progress: bool = False) -> dict:
    """One round: sample, judge, train main against the frozen opponent, merge."""
    folder = out / f"iter{it}"
    folder.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    # DPO samples on-policy (the latest model); SPFT's and SPIN's opponent samples
    sampler = main if cfg.loss == "dpo" else opponent
    pairs = load_pairs(cfg, it, sampler, folder, counts, log, progress)
    if not pairs:  # nothing to learn from: the caller stops (or fails on iteration 1)
        return {"iteration": it, "main": main, "opponent": opponent, "n_pairs": 0,
                "counts": dict(counts), "merged": None}
    trainer, tokenizer, n_questions = build_trainer(cfg, pairs, main, opponent, folder, it,
                                                    progress)
    checkpoint = last_checkpoint(folder) if resume else None
    result = trainer.train(resume_from_checkpoint=checkpoint)
    merged = save_merged(trainer.model, tokenizer, folder,
                         {"sample_values": cfg.sample_values,
                          "max_prompt_tokens": default_prompt_budget(cfg.max_length)})
    return {"iteration": it, "main": main, "opponent": opponent, "n_pairs": len(pairs),
            "n_questions": n_questions, "counts": dict(counts),
            "train_loss": result.training_loss, "steps": result.global_step,
            "peak_rss_mb": peak_rss_mb(), "train_runtime_s": result.metrics.get("train_runtime"),
            # over every process, when training was killed and resumed
            "train_seconds": train_seconds(read_metrics(folder / "metrics.jsonl")),
            "merged": str(merged)}


def train(cfg: SelfPlayConfig, resume: bool = False,
          log: Callable[[str], None] = lambda _: None, progress: bool = False) -> dict:
    """All iterations; a finished iteration's summary is reused, so a killed run resumes.
    ``progress``: bars with ETA on stderr for sampling, the opponent's log-probabilities and
    training."""
    from alignsql.train.dist import world_size
    if world_size() > 1:  # every process would sample and judge the same questions
        raise AlignSQLError("self-play runs in one process (its sampling stage is not split "
                            "across processes yet); start it without torchrun / accelerate")
    cfg = on_device(cfg, log)
    out = run_dir(cfg.output_dir, cfg.name, resume)
    save_config(cfg, out)
    with RunClock(out / "wall.json") as clock:  # a resumed run's time adds up over processes
        history, final = iterations(cfg, out, resume, log, progress)
    result = {"run": str(out), "loss": cfg.loss, "iterations": history,
              "val_scores": (json.loads((out / "val_scores.json").read_text())
                             if (out / "val_scores.json").exists() else {}),
              "final": final, "all_processes": clock.totals()}
    write_json(out / "summary.json", result)
    return result


def iterations(cfg: SelfPlayConfig, out: Path, resume: bool, log,
               progress: bool = False) -> tuple[list[dict], str]:
    """Every iteration's summary and the final model (a finished iteration's summary is
    reused)."""
    pool, latest, history = list(cfg.pool), cfg.pool[-1], []
    best, final = -math.inf, latest
    for it in range(1, cfg.iterations + 1):
        # SPIN and DPO play the latest model against itself: ranking is only for SPFT
        ranked = cfg.loss == "spft" and len(pool) > 1
        scores = {m: val_ex(cfg, m, out) for m in pool} if ranked else {latest: math.nan}
        if cfg.early_stop:
            best = max(best, val_ex(cfg, latest, out), *scores.values())
        main, opp, note = choose(cfg, scores, latest)
        log(f"iteration {it}: main {main}, opponent {opp}: {note}")
        done = out / f"iter{it}" / "summary.json"
        if done.exists():
            summary = json.loads(done.read_text())
        else:
            summary = iteration(cfg, it, main, opp, out, resume, log, progress)
            summary["note"] = note
            write_json(done, summary)
        if not summary["n_pairs"]:
            if not history:
                raise AlignSQLError(f"iteration {it}: no training pairs ({summary['counts']})")
            log(f"iteration {it}: no training pairs ({summary['counts']}); stopping with "
                f"iteration {it - 1}'s model")
            history.append(summary)
            break
        if cfg.early_stop or (cfg.loss == "spft" and it < cfg.iterations):
            summary["val_ex"] = val_ex(cfg, summary["merged"], out)
        history.append(summary)
        pool.append(summary["merged"])
        latest = summary["merged"]
        if cfg.early_stop and summary["val_ex"] <= best:
            log(f"iteration {it}: validation EX {summary['val_ex']:.3f} did not improve on "
                f"{best:.3f}; stopping with the model it started from")
            final = main  # the best model by validation EX, not the one that failed to improve
            break
        final, best = latest, summary["val_ex"] if cfg.early_stop else best
    return history, final
