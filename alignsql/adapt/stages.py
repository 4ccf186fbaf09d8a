"""The stages of ``alignsql adapt`` (each takes the run and returns its JSON-ready result)."""
from __future__ import annotations

import time
from pathlib import Path

from alignsql.adapt.plan import make_plan


def profile(run) -> dict:
    from alignsql.adapt.workload import read_pairs, write_jsonl
    from alignsql.data.schema import from_sqlite
    from alignsql.serve.asker import database_map
    cfg = run.cfg
    database_map([cfg.db])
    schema = from_sqlite(run.db, run.db.stem)
    result: dict = {"db": str(run.db), "tables": len(schema.tables),
                    "columns": sum(len(t.columns) for t in schema.tables)}
    if cfg.test:
        rows, skipped = read_pairs(cfg.test, run.db, "test", need_question=True)
        write_jsonl(run.out / "data" / "test.jsonl", rows)
        result["test"] = {"n": len(rows), "skipped": dict(skipped)}
    if cfg.workload:
        rows, skipped = read_pairs(cfg.workload, run.db, "workload", need_question=False)
        write_jsonl(run.out / "data" / "workload.jsonl", rows)
        result["workload"] = {"n": len(rows), "skipped": dict(skipped),
                              "alignment": _alignment(run)}
    return result


def _alignment(run) -> list[dict]:
    """A (KL-alignment) and OVLP of each public set against the workload."""
    from alignsql.align.run import AlignConfig, run_align
    report = run_align(AlignConfig(train=list(run.cfg.pool), target=[_spec(run, "workload")],
                                   bootstrap=[], data_root=run.cfg.data_root))
    return [{k: p.get(k) for k in ("source", "kl", "alignment", "ovlp", "n_source", "n_target")}
            for p in report["pairs"]]


def _measure_generation(run, lm, n: int = 8) -> float:
    """Answers per second on questions about the user's own tables (batch of 8)."""
    from alignsql.data.example import Example
    from alignsql.data.schema import from_sqlite
    from alignsql.models.generate import GenOptions, generate
    from alignsql.models.prompts import PromptOptions, build
    schema = from_sqlite(run.db, run.db.stem, samples=run.cfg.sample_values)
    tables = [t.name for t in schema.tables] or ["x"]
    prompts = [build(Example(f"How many rows does {tables[i % len(tables)]} have?", "",
                             run.db.stem), schema, lm.tokenizer,
                     PromptOptions(run.cfg.sample_values, _budget(run)))
               for i in range(n)]
    start = time.perf_counter()
    generate(lm, [p.text for p in prompts], GenOptions(max_new_tokens=96),
             prefix=[p.prefix for p in prompts], slots=8)
    return n / (time.perf_counter() - start)


def _measure_training(run, lm) -> tuple[float, float]:
    """Examples and tokens per second of one prefix-shared LoRA step on a group of public
    examples (``batch_size`` questions of one database, as training groups them)."""
    from collections import Counter

    import torch
    from peft import LoraConfig, get_peft_model

    from alignsql.data import registry
    from alignsql.models.loading import compute_dtype
    from alignsql.train.data import records, tokenize
    from alignsql.train.losses import completion_loss
    from alignsql.train.prefix import GroupCollator, batch_item
    ds = registry.load(run.cfg.pool[0], run.cfg.data_root)
    by_db: dict[str, list] = {}
    for ex in ds.examples:
        by_db.setdefault(ex.db_id, []).append(ex)
    group = max(by_db.values(), key=len)[:run.cfg.batch_size]
    skipped: Counter = Counter()
    recs, _ = records([(e, ds) for e in group], lm.tokenizer, _budget(run),
                      run.cfg.sample_values, skipped)
    recs = tokenize(recs, lm.tokenizer, run.cfg.max_length, skipped)
    by_prefix: dict[tuple, list[int]] = {}
    for i, r in enumerate(recs):
        by_prefix.setdefault(tuple(r["prefix_ids"]), []).append(i)
    members = max(by_prefix.values(), key=len)
    batch = GroupCollator(lm.tokenizer.pad_token_id)([batch_item(recs, [members])])
    tokens = int(batch["n_tokens"].sum())
    batch = {k: v.to(lm.device) for k, v in batch.items() if k not in ("n_tokens", "member")}
    model = get_peft_model(lm.model, LoraConfig(r=16, lora_alpha=32,
                                                target_modules="all-linear")).train()
    seconds = []
    for _ in range(2):  # the first step pays one-off kernel setup (~20% here); the second is timed
        start = time.perf_counter()
        with torch.autocast(lm.device, torch.bfloat16,
                            enabled=compute_dtype(run.cfg.dtype, lm.device) == "bf16"):
            loss = completion_loss(model, batch)
        loss.backward()
        seconds.append(time.perf_counter() - start)
    model.unload()
    return len(members) / seconds[-1], tokens / seconds[-1]


def _budget(run) -> int:
    """The prompt budget of training and of both evaluated models."""
    from alignsql.train.config import default_prompt_budget
    return default_prompt_budget(run.cfg.max_length)


def _n_test(run, profile: dict) -> int:
    return profile["test"]["n"] if "test" in profile else 0


def plan(run, profile: dict) -> dict:
    """Throughput measured as each stage will run: generation with the weights in ``dtype``
    (bf16 answered twice as fast as fp32 on an AVX-512 CPU; where bf16 is slow both run fp32,
    alignsql.models.loading.compute_dtype), training on fp32 base weights under autocast
    (SFT's default ``base_dtype``)."""
    import gc

    from alignsql.models.loading import load
    gen_qps = _measure_generation(run, load(run.cfg.model, run.cfg.dtype, run.cfg.device))
    gc.collect()
    train_eps, train_tps = _measure_training(run, load(run.cfg.model, "fp32", run.cfg.device))
    n_test = _n_test(run, profile) or 50  # synthetic held-out pairs are sized like a test
    return make_plan(run.cfg.budget_min, gen_qps, train_eps, train_tps, n_test,
                     run.cfg.n_select, run.cfg.n_synth).to_dict()


def describe(plan_result: dict) -> str:
    from alignsql.adapt.plan import Plan
    return Plan(**{"train_tps": 0.0} | {k: v for k, v in plan_result.items()
                                         if k != "seconds"}).describe()


def describe_fit(select_result: dict) -> str | None:
    """How the selection was sized to the time left, or None when it was not."""
    fit = select_result.get("fit")
    if not fit:
        return None
    tried = ", ".join(f"{t['k']} examples -> {t['tokens']:,} tokens" for t in fit["tried"])
    return (f"after synthesis {fit['train_s'] / 60:.0f} min were left for training, "
            f"{fit['budget_tokens']:,.0f} tokens at the measured rate; tried {tried}; "
            f"kept {select_result['n']}")


def select(run, results: dict) -> dict:
    """The public examples to train on, aligned to the workload (or a seeded sample), as many
    as fill the training time left after synthesis (unless ``n_select`` is given)."""
    plan_result = results["plan"]
    # a plan made before train_tps was measured (a resumed older run) keeps its size
    if run.cfg.n_select is not None or "train_tps" not in plan_result:
        return _select(run, plan_result["n_select"])
    from alignsql.adapt.plan import MIN_SELECT, fit_select
    from alignsql.models.loading import load_tokenizer
    tokenizer = load_tokenizer(run.cfg.model)
    spent = sum(results[s].get("seconds", 0.0) for s in ("profile", "plan", "synth"))
    train_s = max(plan_result["budget_min"] * 60 - spent - plan_result["eval_min"] * 60, 0.0)
    budget = train_s * plan_result["train_tps"]
    chosen: dict[int, dict] = {}

    def tokens_of(k: int) -> int:
        chosen[k] = _select(run, k)
        return training_tokens(_sft_config(run, chosen[k], results["synth"]), tokenizer)
    k, tried = fit_select(plan_result["n_select"], tokens_of, budget, MIN_SELECT,
                          _pool_size(run))
    result = chosen[k] if tried[-1][0] == k else _select(run, k)  # the file holds the last try
    return {**result, "fit": {"train_s": train_s, "budget_tokens": budget,
                              "tried": [{"k": a, "tokens": b} for a, b in tried]}}


def _select(run, k: int) -> dict:
    from alignsql.align.selection import SelectConfig, run_select
    out = run.out / "data" / "selected.jsonl"
    if run.cfg.workload:
        # never the user's test questions: public sets repeat each other's (Spider's training
        # set holds 113 of GeoQuery's 279 test questions word for word)
        test = [_spec(run, "test")] if run.cfg.test else []
        stats = run_select(SelectConfig(pool=list(run.cfg.pool), target=_spec(run, "workload"),
                                        k=k, out=str(out), seed=run.cfg.seed, exclude=test,
                                        data_root=run.cfg.data_root))
        return {"spec": f"file:{out}", "n": stats["n_selected"], "steered": True,
                **{key: stats[key] for key in ("kl_selected", "kl_random", "n_pool",
                                               "n_excluded")}}
    return {"specs": list(run.cfg.pool), "n": k, "steered": False}


def _pool_size(run) -> int:
    """The most public examples a selection can hold: the whole pool when aligned to a
    workload, else what an even split over the pool's sets can draw."""
    from alignsql.data import registry
    sizes = [len(registry.load(s, run.cfg.data_root).examples) for s in run.cfg.pool]
    return sum(sizes) if run.cfg.workload else min(sizes) * len(sizes)


def training_tokens(cfg, tokenizer) -> int:
    """Tokens the training run computes: its examples packed in prefix-sharing groups exactly
    as ``alignsql train sft`` builds them."""
    from alignsql.train.data import build_training_data
    from alignsql.train.prefix import make_groups, sharing_stats
    data = build_training_data(cfg, tokenizer)
    groups = make_groups(data.train, cfg.group_size, cfg.group_max_tokens, cfg.seed)
    return sharing_stats(data.train, groups)["tokens_shared"]


def _spec(run, name: str) -> str:
    return f"file:{run.out / 'data' / f'{name}.jsonl'}"


def synth(run, plan_result: dict) -> dict:
    from alignsql.synth.config import SynthConfig
    from alignsql.synth.run import run_synth
    cfg = SynthConfig(db=str(run.db), templates_from=run.cfg.pool[0],
                      target=_spec(run, "workload") if run.cfg.workload else None,
                      n=plan_result["n_synth"], rounds=1, out=str(run.out / "synth"),
                      sql2text_model=run.cfg.model, text2sql_model=run.cfg.model,
                      dtype=run.cfg.dtype, seed=run.cfg.seed, data_root=run.cfg.data_root,
                      val_fraction=0.0 if run.cfg.test else 0.3)
    summary = run_synth(cfg, log=run.log, progress=True)
    r1 = summary["rounds"][0]
    folder = run.out / "synth"
    train_file, val_file = folder / "round1.jsonl", folder / "round1_val.jsonl"
    return {"n_train": _lines(train_file), "n_val": _lines(val_file),
            "train": str(train_file), "val": str(val_file),
            "verified_sql": r1["verified_sql"], "round_trip_pass": r1["round_trip_pass"],
            "dropped": r1["dropped_after_sql"], "seconds_by_step": r1["seconds"]}


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.exists() else 0


def _sft_config(run, sel: dict, syn: dict):
    """The SFT run of the selected public examples and the kept synthetic pairs."""
    from alignsql.train.config import SFTConfig
    specs, sizes = ([sel["spec"]], [sel["n"]]) if sel["steered"] else (
        sel["specs"], _split(sel["n"], len(sel["specs"])))
    if syn["n_train"]:
        specs, sizes = specs + [f"file:{syn['train']}"], sizes + [syn["n_train"]]
    return SFTConfig(name="sft", output_dir=str(run.out), model=run.cfg.model, train=specs,
                     train_size=sizes, val_fraction=0.0, method=run.cfg.method,
                     max_length=run.cfg.max_length, sample_values=run.cfg.sample_values,
                     learning_rate=run.cfg.learning_rate, batch_size=run.cfg.batch_size,
                     group_size=run.cfg.batch_size, dtype=run.cfg.dtype, device=run.cfg.device,
                     seed=run.cfg.seed, save_steps=20, logging_steps=5,
                     exclude=[_spec(run, "test")] if run.cfg.test else [],
                     data_root=run.cfg.data_root)


def train(run, results: dict) -> dict:
    from alignsql.train.sft import train as sft_train
    summary = sft_train(_sft_config(run, results["select"], results["synth"]), resume=True,
                        log=run.log)
    return {"merged": summary["merged"], "n_train": summary["n_train"],
            "steps": summary["steps"], "train_loss": summary["train_loss"],
            "train_runtime_s": summary["train_runtime_s"], "sources": summary["data"]}


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (i < n % parts) for i in range(parts)]


def evaluate(run, results: dict) -> dict:
    """Untuned and tuned model on the test pairs (or the synthetic held-out pairs), paired."""
    from alignsql.eval import paired
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict
    synthetic = not run.cfg.test
    spec = f"file:{results['synth']['val']}" if synthetic else _spec(run, "test")
    if synthetic and not results["synth"]["n_val"]:
        return {"test_is_synthetic": True, "n": 0, "ex_untuned": None, "ex_tuned": None,
                "diff": None, "ci": None, "p_value": None,
                "note": "no test pairs: give --test (no synthetic pair survived to hold out)"}
    folders = {}
    for label, model in (("untuned", run.cfg.model), ("tuned", results["train"]["merged"])):
        folder = run.out / "eval" / label
        pcfg = PredictConfig(model=model, dataset=spec, with_db=True, batch_size=8,
                             max_new_tokens=160, dtype=run.cfg.dtype, device=run.cfg.device,
                             sample_values=run.cfg.sample_values,
                             max_prompt_tokens=_budget(run),
                             out=str(folder / "preds.jsonl"))
        run_predict(pcfg, progress=True)
        run_eval(EvalConfig(dataset=spec, preds=pcfg.out, only_predicted=True, out=str(folder)))
        folders[label] = folder / "results.jsonl"
    cmp = paired.compare(EvalConfig(dataset=spec, only_predicted=True, seed=run.cfg.seed,
                                    compare=[str(folders["untuned"]), str(folders["tuned"])]))
    paired.write(cmp, run.out / "eval")
    return {"test_is_synthetic": synthetic, "spec": spec, "n": cmp["n"],
            "ex_untuned": cmp["ex_a"], "ex_tuned": cmp["ex_b"], "diff": cmp["diff"],
            "ci": cmp["ci"], "p_value": cmp["p_value"], "gained": cmp["b_only"],
            "lost": cmp["a_only"]}


def report(run, results: dict) -> dict:
    from alignsql.adapt.report import html
    path = run.out / "report.html"
    path.write_text(html(run, results))
    return {"report": str(path)}
