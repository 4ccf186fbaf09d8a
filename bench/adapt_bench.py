"""`alignsql adapt` on real databases whose real question sets no stage trains on.

- GeoQuery: its database; workload = the SQL of geography:train (no questions); test =
  geography:test (279 question/SQL pairs, never used before the evaluate stage).
- KaggleDBQA: its largest database; workload = the SQL of that database's few-shot split;
  test = that database's questions of kaggledbqa:test.

Each run is `alignsql adapt --db DB --workload W.jsonl --test T.jsonl --budget-min B` with
Qwen2.5-Coder-0.5B (resumable: a rerun continues each adapt run stage by stage). The result
holds adapt's paired comparison (EX untuned vs tuned on the test pairs, bootstrap 95% interval,
exact McNemar p) and the time of every stage.

    python bench/adapt_bench.py [--budget-min 120]  -> bench/results/adapt_bench.json
    python bench/adapt_bench.py --budget-min 30 --only geoquery --tag planner
                                                  -> bench/results/adapt_bench_planner.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "adapt"
RESULT = ROOT / "bench" / "results" / "adapt_bench.json"
ALIGNSQL = [sys.executable, "-m", "alignsql.cli.main"]


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def geoquery() -> tuple[Path, list[dict], list[dict]]:
    from alignsql.data import registry
    train, test = registry.load("geography:train"), registry.load("geography:test")
    db = next(p for p in test.db_paths.values() if p and p.exists())
    return db, [{"sql": e.sql} for e in train.examples], \
        [{"question": e.question, "sql": e.sql} for e in test.examples]


def kaggledbqa() -> tuple[Path, list[dict], list[dict]]:
    from alignsql.data import registry
    fewshot, test = registry.load("kaggledbqa:fewshot"), registry.load("kaggledbqa:test")
    with_db = [e for e in test.examples if test.db_path(e.db_id)]
    db_id = Counter(e.db_id for e in with_db).most_common(1)[0][0]
    return test.db_path(db_id), [{"sql": e.sql} for e in fewshot.examples if e.db_id == db_id], \
        [{"question": e.question, "sql": e.sql} for e in with_db if e.db_id == db_id]


def run(name: str, make, budget: float, tag: str = "") -> dict:
    db, workload, test = make()
    folder = OUT / (f"{name}_{tag}" if tag else name)
    w, t = write(folder / "workload.jsonl", workload), write(folder / "test.jsonl", test)
    log(f"{name}: {db.name}, workload {len(workload)} queries, test {len(test)} pairs")
    subprocess.run([*ALIGNSQL, "adapt", "--db", str(db), "--workload", str(w), "--test", str(t),
                    "--budget-min", f"{budget:g}", "--out", str(folder / "run")],
                   check=True, cwd=ROOT)
    s = json.loads((folder / "run" / "summary.json").read_text())
    synth = json.loads((folder / "run" / "stages" / "synth.json").read_text())
    select = json.loads((folder / "run" / "stages" / "select.json").read_text())
    plan = json.loads((folder / "run" / "stages" / "plan.json").read_text())
    return {"db": name, "db_file": db.name, "test": str(t.relative_to(ROOT)), "n": s["n"],
            "n_workload": len(workload), "budget_min": budget, "stage_s": s["stage_s"],
            "pairs_synthesized": synth.get("n_train", 0) + synth.get("n_val", 0),
            "ex_untuned": s["ex_untuned"], "ex_tuned": s["ex_tuned"], "diff": s["diff"],
            "ci": s["ci"], "p_value": s["p_value"],
            "pool_examples_excluded": select.get("n_excluded"),
            "plan": {k: plan.get(k) for k in ("gen_qps", "train_eps", "train_tps", "n_select",
                                              "n_synth", "eval_min", "synth_min", "train_min")},
            "n_selected": select["n"], "select_fit": select.get("fit"),
            "wall_min": sum(v or 0.0 for v in s["stage_s"].values()) / 60,
            "test_questions_in_training": leaked(t, [folder / "run" / "data" / "selected.jsonl",
                                                     Path(synth["train"])]),
            "load_avg": os.getloadavg()}


def leaked(test: Path, train_files: list[Path]) -> int:
    """Test questions that also appear (alignsql.data.overlap keys) in the training files."""
    from alignsql.data.overlap import question_key
    keys = {question_key(json.loads(line).get("question") or "") for f in train_files
            if f.exists() for line in f.read_text().splitlines() if line.strip()}
    return sum(question_key(json.loads(line)["question"]) in keys - {""}
               for line in test.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-min", type=float, default=120.0)
    parser.add_argument("--only", choices=["geoquery", "kaggledbqa"], help="one database")
    parser.add_argument("--tag", default="", help="a separate run and results file "
                        "(bench/results/adapt_bench_TAG.json), e.g. for a planner check")
    args = parser.parse_args()
    runs = []
    dbs = [(n, m) for n, m in (("geoquery", geoquery), ("kaggledbqa", kaggledbqa))
           if args.only in (None, n)]
    result = RESULT.with_name(f"adapt_bench_{args.tag}.json") if args.tag else RESULT
    for name, make in dbs:
        runs.append(run(name, make, args.budget_min, args.tag))
        result.write_text(json.dumps({"model": "qwen2.5-coder-0.5b", "runs": runs,
                                      "complete": len(runs) == len(dbs),
                                      "machine": {"cpus": os.cpu_count(),
                                                  "python": platform.python_version(),
                                                  "platform": platform.platform()},
                                      "command": " ".join(["python bench/adapt_bench.py",
                                                           *sys.argv[1:]])},
                                     indent=2))
    log(json.dumps(runs))


if __name__ == "__main__":
    main()
