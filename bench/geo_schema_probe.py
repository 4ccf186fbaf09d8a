"""Why is untuned Qwen so weak on GeoQuery? The same questions, two schemas.

The dose experiment and the AR experiment ask GeoQuery questions with the dataset's curated
schema (text2sql-data's upper-case names, e.g. `CITY.STATE_NAME`, keys declared; sample values
borrowed from the database), where untuned Qwen2.5-Coder-0.5B scores 0.07-0.08; `alignsql
adapt`, given the same database file, builds its prompt from the SQLite file itself (lower-case
names, no declared keys) and the untuned model scored 0.318 on geography:test. This probe asks
the untuned model the same 200 seeded geography:test questions (the AR experiment's sample)
both ways, same settings otherwise (3 values per column, 896-token prompt budget, greedy, 240
new tokens), and pairs the answers. It also counts answers that compare with a string literal
holding an upper-case letter (the database stores lower case), read from the SQL's AST.
A tuned model can be asked the same way (`--model LABEL=PATH`): how much of its GeoQuery gain
is the spelling; each model's run is kept in the result under its label.

    python bench/geo_schema_probe.py      -> bench/results/geo_schema_probe.json
    python bench/geo_schema_probe.py --model dose_all=bench/out/sft_dose/runs/dose_all/merged
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from precision_probe import cpu  # noqa: E402

OUT = ROOT / "bench" / "out" / "geo_schema_probe"
RESULT = ROOT / "bench" / "results" / "geo_schema_probe.json"
TARGET, MODEL, N, SEED = "geography:test", "qwen2.5-coder-0.5b", 200, 0
SETTINGS = dict(sample_values=3, max_prompt_tokens=896, max_new_tokens=240, with_db=True)


def questions() -> list:
    """The AR experiment's seeded sample of geography:test (questions with a database)."""
    from alignsql.data import registry
    from alignsql.models.predict import PredictConfig, choose_examples
    cfg = PredictConfig(dataset=TARGET, sample=N, with_db=True, seed=SEED)
    return choose_examples(registry.load(TARGET), cfg)


def live_file(examples: list) -> str:
    """The same questions as a file whose records name the SQLite file: the loader reads the
    schema from the database, as `alignsql adapt` does with a user's file."""
    from alignsql.data import registry
    ds = registry.load(TARGET)
    path = OUT / "live.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": e.id, "question": e.question, "sql": e.sql,
                                        "db_id": e.db_id,
                                        "db_path": str(ds.db_path(e.db_id).resolve())}) + "\n"
                            for e in examples))
    return f"file:{path}"


def answered(label: str, model: str, name: str, dataset: str,
             sample: int | None) -> tuple[dict, list[dict]]:
    """Each scored question's verdict (id -> correct; a gold query that fails on the
    database is not scored, as the evaluator has it) and the predictions, for one schema."""
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict
    folder = OUT / label / name
    preds = folder / "preds.jsonl"
    if not (folder / "results.jsonl").exists():
        run_predict(PredictConfig(model=model, dataset=dataset, sample=sample, seed=SEED,
                                  out=str(preds), **SETTINGS), progress=True)
        run_eval(EvalConfig(dataset=dataset, preds=str(preds), only_predicted=True,
                            out=str(folder)))
    rows = [json.loads(x) for x in (folder / "results.jsonl").open()]
    return ({r["id"]: r["status"] == "correct" for r in rows
             if r["status"] not in ("gold_error", "missing_db")},
            [json.loads(x) for x in preds.open()])


def upper_case_literals(preds: list[dict]) -> int:
    """Answers comparing with a string literal that holds an upper-case letter."""
    import sqlglot
    from sqlglot import exp
    count = 0
    for p in preds:
        try:
            tree = sqlglot.parse_one(p["sql"] or "", read="sqlite")
        except sqlglot.errors.SqlglotError:  # model-written: unparsable or untokenizable
            continue
        if tree and any(lit.is_string and lit.this != lit.this.lower()
                        for lit in tree.find_all(exp.Literal)):
            count += 1
    return count


def asked_both_ways(label: str, model: str, examples: list) -> dict:
    """One model's answers with each schema, paired on the questions scored both ways."""
    from alignsql.eval.significance import paired_comparison
    curated, curated_preds = answered(label, model, "curated", TARGET, N)
    live, live_preds = answered(label, model, "live", live_file(examples), None)
    ids = [e.id for e in examples if e.id in curated and e.id in live]
    c = paired_comparison([curated[i] for i in ids], [live[i] for i in ids], seed=SEED)
    return {"model": model, "n": c["n"], "ex_curated_schema": c["ex_a"],
            "ex_live_schema": c["ex_b"], "diff_live_minus_curated": c["diff"], "ci": c["ci"],
            "p_value": c["p_value"], "gained": c["b_only"], "lost": c["a_only"],
            "upper_case_literal_answers": {"curated": upper_case_literals(curated_preds),
                                           "live": upper_case_literals(live_preds)}}


def main(models: dict[str, str]) -> dict:
    examples = questions()
    runs = json.loads(RESULT.read_text()).get("runs", {}) if RESULT.exists() else {}
    runs.update({label: asked_both_ways(label, model, examples)
                 for label, model in models.items()})
    result = {"target": TARGET, "sample": N, "seed": SEED, "settings": SETTINGS, "runs": runs,
              "ex_curated_untuned_in_ar_experiment": _ar_before(),
              "machine": {"cpu": cpu(), "load_avg_at_summary": os.getloadavg(),
                          "uptime_at_summary": subprocess.run(
                              ["uptime"], capture_output=True, text=True).stdout.strip()},
              "command": "python bench/geo_schema_probe.py"}
    RESULT.write_text(json.dumps(result, indent=2))
    return result


def _ar_before() -> float | None:
    """The same sample's untuned EX as the AR experiment measured it (bf16, earlier machine)."""
    path = ROOT / "bench" / "results" / "ar_experiment" / f"before__{MODEL}__geography-test.json"
    return json.loads(path.read_text())["ex"] if path.exists() else None


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", metavar="LABEL=PATH",
                    help=f"a model to ask both ways (default: untuned={MODEL})")
    args = ap.parse_args()
    if any("=" not in m for m in args.model or []):
        ap.error("--model takes LABEL=PATH")
    given = dict(m.split("=", 1) for m in args.model or [f"untuned={MODEL}"])
    print(json.dumps(main(given), indent=2))
