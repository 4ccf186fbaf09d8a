"""Is SPFT's result its learning rate's? (#16)

bench/selfplay_qwen.py trains every self-play method at one rate, 2e-4: the start model's SFT
rate, tuned on no split. At that rate SPIN and DPO collapse within one iteration (their
sampler's correct answers on the training questions fall from ~690 of 1,000 to 247 (SPIN) and
88 (DPO)), so a reviewer asks whether SPFT's result is the method's or the rate's. This probe
trains SPFT again from the same start, pool, questions and steps at lower rates (preference
recipes train full models near 5e-7, the alignment handbook's DPO recipe; LoRA, which moves far
fewer weights, takes higher ones: 5e-5 and 1e-5 lie between). Each final model answers Spider
dev's steer part (310 questions; a seeded 200 of them rank SPFT's pool; never test); the rate
whose model scores best there is chosen (a tie goes to the rate fixed before any run), and the
chosen model's answers on the test part and GeoQuery are paired with the start model's, as in
selfplay_qwen.json. No other probe model is scored on test (the fixed rate's test score is
selfplay_qwen.json's, reported there whichever rate is chosen).

    nohup python bench/selfplay_lr.py > bench/out/selfplay_lr.log 2>&1 &
    python bench/selfplay_lr.py --summarize
    python bench/selfplay_lr.py --rates 2e-4 5e-5     # probe fewer rates
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import selfplay_qwen as sq
from sft_dose import compare, log, scored

MAIN = ROOT / "bench" / "out" / "selfplay_qwen"  # the fixed-rate run lives there
OUT = ROOT / "bench" / "out" / "selfplay_lr"
STEER = "spider:dev@steer"
FIXED = float(yaml.safe_load((ROOT / sq.CONFIG).read_text())["learning_rate"])
RATES = (FIXED, 5e-5, 1e-5)


def tag(rate: float) -> str:
    return f"lr{rate:.0e}"


def run_out(rate: float) -> Path:
    """Where a rate's run lives: the fixed rate's is selfplay_qwen.py's own SPFT run."""
    return MAIN if rate == FIXED else OUT / tag(rate)


def trained(rate: float) -> dict:
    """SPFT at `rate`, trained in a process of its own (its peak RSS is the run's)."""
    done = run_out(rate) / "spft.json"
    if not done.exists():
        if rate == FIXED:  # bench/selfplay_qwen.py trains it, in the queue before this probe
            raise SystemExit(f"{done} missing: run bench/selfplay_qwen.py first")
        seed(rate)
        log(f"training spft at {rate:g}")
        subprocess.run([sys.executable, __file__, "--child", str(rate)], check=True, cwd=ROOT)
    return json.loads(done.read_text())


def seed(rate: float) -> None:
    """Iteration 1's ranking, pairs and opponent log-probabilities depend on the pool and the
    seed, not on the rate (SPFT samples from the pool's worst model, which no rate has touched
    yet): they are copied from the fixed-rate run, so a probe run costs its training and its
    iteration 2 (its wall_s leaves out that ranking, sampling and scoring). The
    log-probabilities carry the opponent, precision and steps they were computed for, and
    self-play computes them again if any differs."""
    src, dst = MAIN / "spft", run_out(rate) / "spft"
    if dst.exists():
        return
    (dst / "iter1").mkdir(parents=True)
    for name in ("pairs.jsonl", "counts.json", "samples.jsonl"):
        shutil.copy2(src / "iter1" / name, dst / "iter1" / name)
    logps = src / "iter1" / "opponent_logps.json"
    if logps.exists():  # else computed again
        shutil.copy2(logps, dst / "iter1" / logps.name)
    pool = {str(p) for p in sq.doses()}  # not the fixed run's own trained models
    scores = json.loads((src / "val_scores.json").read_text())
    (dst / "val_scores.json").write_text(json.dumps({m: v for m, v in scores.items()
                                                     if m in pool}, indent=1))


def steer_row(rate: float, run: dict) -> dict:
    """The rate's final model on the steer part, paired with the start model there; its cost
    and how its sampler drifted on the training questions (selfplay_qwen's keys)."""
    start = scored(str(sq.doses()[0]), "sft", STEER, OUT, sq.PROMPT)
    final = scored(run["final"], f"spft_{tag(rate)}", STEER, OUT, sq.PROMPT)
    c = compare(start, final, STEER)
    return {"learning_rate": rate, "run": run["run"], **sq.run_keys(run),
            "iteration_1_pairs": "its own" if rate == FIXED else
            f"copied from {MAIN / 'spft' / 'iter1'} with the opponent's log-probabilities "
            "(rate-independent; wall_s leaves them out)",
            "steer": {"n": c["n"], "ex": c["ex"], "ex_sft": c["ex_untuned"],
                      "diff_vs_sft": c["diff"], "ci": c["ci"], "p_value": c["p_value"],
                      "gained": c["gained"], "lost": c["lost"]}}


def choose(rows: dict[str, dict]) -> str:
    """The rate whose final model has the highest EX on the steer part; ties go to the first
    (the fixed rate leads the list, so a tie keeps it)."""
    return max(rows, key=lambda k: (rows[k]["steer"]["ex"], -list(rows).index(k)))


def tested(rate: float, run: dict) -> dict:
    """The chosen model on each of selfplay_qwen's targets, paired with the start model's
    answers there (the fixed rate's were scored by selfplay_qwen.py)."""
    label = "spft" if rate == FIXED else f"spft_{tag(rate)}"
    out = run_out(rate)
    return {t: sq.vs_start(scored(run["final"], label, t, out, sq.PROMPT), t, MAIN)
            for t in sq.TARGETS}


def summarize(rates: tuple[float, ...], rows: dict[str, dict], chosen: str | None,
              test: dict | None) -> dict:
    result = {"model": "qwen2.5-coder-0.5b", "method": "spft", "config": sq.CONFIG,
              "rates": [tag(r) for r in rates], "fixed_rate": tag(FIXED),
              "selection": f"highest EX of the final model on {STEER} (the split a seeded "
                           "200 of which rank SPFT's pool); a tie keeps the fixed rate",
              "runs": rows, "chosen": chosen, "complete": test is not None,
              # the chosen model only, paired with the start model as in selfplay_qwen.json
              "chosen_test": test, "machine": {"load_avg": os.getloadavg(), "cpu": sq.cpu()},
              "command": "python bench/selfplay_lr.py --rates " + " ".join(f"{r:g}" for r in rates)}
    (ROOT / "bench" / "results" / "selfplay_lr.json").write_text(json.dumps(result, indent=2))
    return result


def table(result: dict) -> str:
    """The probe as markdown rows for docs/results.md, straight from the result."""
    head = ("| rate | EX, steer part | vs SFT [95% CI] | p (gained / lost) | samples correct "
            "per iteration | train loss per iteration | wall h | chosen |")
    rows = [head, "|" + "---|" * 8]
    for name, r in result["runs"].items():
        loss = ", ".join(f"{x:.3f}" for x in r["train_loss_per_iteration"] if x is not None)
        correct = ", ".join(str(x) for x in r["samples_correct_per_iteration"])
        chosen = "**chosen**" if name == result["chosen"] else ""
        rows.append(f"| {r['learning_rate']:g} | {r['steer']['ex']:.3f} | "
                    f"{sq.paired_cell(r['steer'])} | {correct} | {loss} | "
                    f"{r['wall_s'] / 3600:.2f} | {chosen} |")
    if result.get("chosen_test"):
        rows += ["", "| chosen rate on | EX | vs SFT [95% CI] | p (gained / lost) |",
                 "|---|---|---|---|"]
        rows += [f"| {t} | {v['ex']:.3f} | {sq.paired_cell(v)} |"
                 for t, v in result["chosen_test"].items()]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--rates", type=float, nargs="+", default=list(RATES),
                    help="learning rates to probe; the first is the fixed rate")
    ap.add_argument("--summarize", action="store_true",
                    help="score and write up only the runs already trained (no training)")
    ap.add_argument("--table", action="store_true",
                    help="print bench/results/selfplay_lr.json as markdown")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads((ROOT / "bench" / "results" / "selfplay_lr.json").read_text())))
        return
    if args.child is not None:  # a process of its own: its peak RSS is the run's
        sq.child("spft", OUT / tag(args.child), False, (f"learning_rate={args.child}",))
        return
    rates = tuple(args.rates)
    if rates[0] != FIXED:
        sys.exit(f"--rates: the first must be the fixed rate {FIXED:g} ({sq.CONFIG})")
    runs = {}
    for rate in rates:
        if args.summarize and not (run_out(rate) / "spft.json").exists():
            continue
        runs[tag(rate)] = (rate, trained(rate))
    rows = {k: steer_row(rate, run) for k, (rate, run) in runs.items()}
    if not rows:
        sys.exit("no finished SPFT run yet: run bench/selfplay_qwen.py, then this script")
    chosen = choose(rows) if len(rows) == len(rates) else None
    test = tested(*runs[chosen]) if chosen else None
    summarize(rates, rows, chosen, test)
    log(json.dumps({k: r["steer"] for k, r in rows.items()} | {"chosen": chosen}, indent=1))


if __name__ == "__main__":
    main()
