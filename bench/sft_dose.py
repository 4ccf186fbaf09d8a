"""SFT dose-response on Qwen2.5-Coder-0.5B: LoRA (the default config, prefix-shared) on 500,
2,000 and all of spider:train, one epoch, against the untuned model, on every executable
Spider dev question and on two out-of-domain targets with databases (GeoQuery, KaggleDBQA).

Every comparison is paired on the same questions (alignsql.eval.paired): EX of each, the
difference with a bootstrap 95% interval and the exact McNemar p-value. The untuned model
gets the prompt the tuned ones are trained and asked with (3 sample values per column, the
training prompt budget of 896 tokens), so the comparison is of the weights only.

Resumable at every level (training checkpoints, predictions appended, finished evaluations
kept); the untuned model runs first on every target, then each dose (smallest first) on all:

    python bench/sft_dose.py            -> bench/results/sft_dose.json (complete: false until all)
    python bench/sft_dose.py --summarize
    python bench/sft_dose.py --train 500  # one dose's model only (for the benchmarks that
                                          # start from it), no evaluation
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "sft_dose"
RESULT = ROOT / "bench" / "results" / "sft_dose.json"
CONFIG = "configs/sft/qwen2.5-coder-0.5b_lora.yaml"
BASE = "qwen2.5-coder-0.5b"
TARGETS = ["spider:dev", "geoquery:all", "kaggledbqa:all"]
DOSES = [500, 2000, 0]  # 0 = all of spider:train (8,659 in the shared data)
PROMPT = ["--sample-values", "3", "--max-prompt-tokens", "896"]  # the config's training prompt
ALIGNSQL = [sys.executable, "-m", "alignsql.cli.main"]
MAX_NEW_TOKENS = 160  # every model's answers, tuned or not


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def dose_name(dose: int) -> str:
    return f"dose_{dose or 'all'}"


def train(dose: int) -> Path:
    """The merged model of one dose (trained, or resumed from its last checkpoint)."""
    run = OUT / "runs" / dose_name(dose)
    if not (run / "summary.json").exists():
        size = [f"train_size=[{dose}]" if dose else "train_size=[]"]
        log(f"training {dose_name(dose)}")
        subprocess.run([*ALIGNSQL, "train", "sft", "--config", CONFIG, f"name={dose_name(dose)}",
                        f"output_dir={OUT / 'runs'}", *size, "val_fraction=0", "eval=null",
                        "save_steps=20", "--resume"], check=True, cwd=ROOT)
    return run / "merged"


def layout(label: str, target: str, out: Path = OUT) -> tuple[Path, Path]:
    """Where scored() keeps one model's answers on one target: the predictions file and the
    evaluation folder (results.jsonl, summary.json)."""
    key = f"{label}__{target.replace(':', '_')}"
    return out / "preds" / f"{key}.jsonl", out / "eval" / key


def preds_for(results: Path) -> Path:
    """The predictions file a results.jsonl of scored() was evaluated from (layout's inverse:
    OUT/eval/KEY/results.jsonl -> OUT/preds/KEY.jsonl)."""
    return results.parents[2] / "preds" / f"{results.parent.name}.jsonl"


def scored(model: str, label: str, target: str, out: Path = OUT,
           prompt: list[str] | None = None) -> Path:
    """results.jsonl of one model on one target (predicted, then evaluated) under `out`.

    `prompt`: the prompt flags; by default the tuned models' own (saved with them) and
    PROMPT, their training prompt, for the untuned model."""
    preds, ev = layout(label, target, out)
    if not (ev / "summary.json").exists():
        log(f"predicting {label} on {target}")
        preds.parent.mkdir(parents=True, exist_ok=True)
        if prompt is None:
            prompt = PROMPT if label == "untuned" else []
        subprocess.run([*ALIGNSQL, "predict", "--model", model, "--dataset", target, "--with-db",
                        "--batch-size", "8", "--max-new-tokens", str(MAX_NEW_TOKENS),
                        *prompt, "--out", str(preds)], check=True, cwd=ROOT)
        subprocess.run([*ALIGNSQL, "eval", "--dataset", target, "--preds", str(preds),
                        "--only-predicted", "--out", str(ev)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    return ev / "results.jsonl"


def compare(untuned: Path, tuned: Path, target: str) -> dict:
    from alignsql.eval import paired
    from alignsql.eval.run import EvalConfig
    cfg = EvalConfig(dataset=target, only_predicted=True, compare=[str(untuned), str(tuned)])
    r = paired.compare(cfg)
    return {"n": r["n"], "ex": r["ex_b"], "ex_untuned": r["ex_a"], "diff": r["diff"],
            "ci": r["ci"], "p_value": r["p_value"], "gained": r["b_only"], "lost": r["a_only"],
            "by_hardness": r["by_hardness"], "valid": _valid(untuned, tuned),
            "unseen_in_spider_train": unseen(untuned, tuned, target)}


def unseen(untuned: Path, tuned: Path, target: str) -> dict | None:
    """The same comparison on the target's questions that spider:train does not hold word for
    word (alignsql.data.overlap): Spider's training set repeats 403 of GeoQuery's 877. None
    when the target shares no question with it."""
    from alignsql.data import registry
    from alignsql.data.overlap import question_key, question_keys
    from alignsql.eval.significance import paired_comparison
    seen = question_keys(registry.load("spider:train").examples)
    question = {e.id: e.question for e in registry.load(target).examples}
    a, b = (_statuses(untuned), _statuses(tuned))
    ids = [i for i in a if i in b and i in question and a[i] is not None and b[i] is not None]
    clean = [i for i in ids if question_key(question[i]) not in seen]
    if len(clean) == len(ids):
        return None
    c = paired_comparison([a[i] for i in clean], [b[i] for i in clean])
    return {"n": c["n"], "n_seen_left_out": len(ids) - len(clean), "ex": c["ex_b"],
            "ex_untuned": c["ex_a"], "diff": c["diff"], "ci": c["ci"], "p_value": c["p_value"],
            "gained": c["b_only"], "lost": c["a_only"]}


def _statuses(path: Path) -> dict[str, int | None]:
    """Each question's outcome: 1 correct, 0 wrong, None not scored (gold fails, no db)."""
    rows = (json.loads(x) for x in path.read_text().splitlines())
    return {r["id"]: (None if r["status"] in ("gold_error", "missing_db")
                      else int(r["status"] == "correct")) for r in rows}


def _valid(untuned: Path, tuned: Path) -> dict:
    """Share of each model's answers that ran (any result, right or wrong)."""
    def share(path: Path) -> float:
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        return sum(r["status"] in ("correct", "wrong") for r in rows) / len(rows)
    return {"untuned": share(untuned), "tuned": share(tuned)}


def training_stats(dose: int) -> dict | None:
    run = OUT / "runs" / dose_name(dose)
    if not (run / "summary.json").exists():
        return None
    s = json.loads((run / "summary.json").read_text())
    groups = json.loads((run / "groups.json").read_text())
    # a resumed run's runtime covers only its last stretch: no examples/s for it
    resumed = s.get("resumed_from")
    return {"n_train": s["n_train"], "steps": s["steps"], "train_runtime_s": s["train_runtime_s"],
            "resumed_from": Path(resumed).name if resumed else None,
            "examples_per_s": None if resumed else s["n_train"] / s["train_runtime_s"],
            "train_loss": s["train_loss"],
            "peak_rss_mb": s["peak_rss_mb"], "mean_group_size": groups["mean_group_size"],
            "token_saving": groups["token_saving"]}


def summarize() -> dict:
    runs, training = [], {}
    for dose in DOSES:
        training[dose_name(dose)] = training_stats(dose)
        for target in TARGETS:
            key = target.replace(":", "_")
            base = OUT / "eval" / f"untuned__{key}" / "results.jsonl"
            tuned = OUT / "eval" / f"{dose_name(dose)}__{key}" / "results.jsonl"
            if base.exists() and tuned.exists():
                runs.append({"model": BASE, "dose": dose or "all", "target": target,
                             **compare(base, tuned, target)})
    untuned = {}
    for target in TARGETS:
        f = OUT / "eval" / f"untuned__{target.replace(':', '_')}" / "summary.json"
        if f.exists():
            s = json.loads(f.read_text())
            untuned[target] = {"ex": s["ex"], "n": s["n_scored"]}
    done = len(runs) == len(DOSES) * len(TARGETS)
    out = {"model": BASE, "config": CONFIG, "runs": runs, "untuned": untuned,
           "training": training, "complete": done,
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "platform": platform.platform(), "load_avg": os.getloadavg()},
           "command": "python bench/sft_dose.py"}
    old = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    if old.get("complete") and not done:  # a checkout without bench/out: keep the result
        return old
    if {k: v for k, v in old.items() if k != "machine"} != {k: v for k, v in out.items()
                                                           if k != "machine"}:
        RESULT.write_text(json.dumps(out, indent=2))  # the load of the run that changed it
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--summarize", action="store_true")
    parser.add_argument("--train", type=int, metavar="DOSE", help="train one dose (0 = all)")
    args = parser.parse_args()
    if args.summarize:
        print(json.dumps(summarize(), indent=2))
        return
    if args.train is not None:
        log(f"model: {train(args.train)}")
        return
    (OUT / "preds").mkdir(parents=True, exist_ok=True)
    for target in TARGETS:  # the baseline first: every dose is compared with it
        scored(BASE, "untuned", target)
    summarize()
    for dose in DOSES:  # smallest dose first, so a partial run already holds whole doses
        for target in TARGETS:
            scored(str(train(dose)), dose_name(dose), target)
            summarize()
    log(json.dumps(summarize()["runs"]))


if __name__ == "__main__":
    main()
