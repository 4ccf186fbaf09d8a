"""Self-play on the competent model (#16): SFT, SPIN, DPO and SPFT from one start.

The start is the largest finished SFT model of bench/sft_dose.py (dose_all, else dose_2000,
else dose_500); its SFT siblings (the other doses) join SPFT's pool, ranked on Spider dev's
steer part (every dose trained on spider:train, so no part of it ranks cleanly). Every
method samples k = 4 SQL at temperature 1 for the same seeded spider:train questions per
iteration, trains the same number of steps (LoRA, configs/selfplay/qwen2.5-coder-0.5b_lora.yaml)
for 2 iterations, and its final model answers Spider dev's test part (never used to rank or
stop) and GeoQuery with the dose experiment's prompt; each is compared with the start model
on the same questions (paired: interval, McNemar p). The untuned base model answers the same
questions with the same prompt, so that each step of the paper's ordering (SPIN < untuned <
SFT < SPFT) is a paired comparison of its own (`ordering` in the JSON).
Each training run is its own process; its wall time and peak RSS count every process it took
(a session ending kills and resumes it: the run's wall.json). Everything resumes.
A fresh checkout has no bench/out: a method (or the untuned model) whose row is in the
committed result and whose run is not in bench/out keeps that row (listed under `kept`) and
is not trained again; the start model is retrained and scored again, and the result says how its EX
compares with the start model those rows were paired with (`start_as_paired`).

    nohup python bench/selfplay_qwen.py > bench/out/selfplay_qwen.log 2>&1 &
    python bench/selfplay_qwen.py --summarize
    python bench/selfplay_qwen.py --table     # the committed result as markdown
    python bench/selfplay_qwen.py --smoke     # 12 questions, k=2, 2 steps: the plumbing only
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from sft_dose import BASE, MAX_NEW_TOKENS  # noqa: E402
from sft_dose import OUT as DOSE_OUT  # noqa: E402
from sft_dose import compare, layout, log, preds_for, scored  # noqa: E402
from precision_probe import cpu  # noqa: E402

from alignsql.train.callbacks import logged_peak_mb, read_metrics, train_seconds  # noqa: E402

CONFIG = "configs/selfplay/qwen2.5-coder-0.5b_lora.yaml"
TARGETS = ["spider:dev@test", "geoquery:all"]
METHODS = ("spin", "dpo", "spft")
PROMPT = ["--sample-values", "3", "--max-prompt-tokens", "896"]
ALIGNSQL = [sys.executable, "-m", "alignsql.cli.main"]
SMOKE = ["train_size=[12]", "k=2", "max_steps=2", "val_limit=6", "iterations=1"]
RESULT = ROOT / "bench" / "results" / "selfplay_qwen.json"


def doses() -> list[Path]:
    """Finished SFT models, largest dose first."""
    runs = DOSE_OUT / "runs"
    names = ("dose_all", "dose_2000", "dose_500")
    return [runs / n / "merged" for n in names if (runs / n / "merged" / "config.json").exists()]


def child(method: str, out: Path, smoke: bool, overrides: tuple[str, ...] = ()) -> None:
    """One self-play run in this process (a process of its own: its peak RSS is the run's).
    `overrides`: config keys set on top of CONFIG (bench/selfplay_lr.py: the learning rate)."""
    # the start model last: self-play starts from pool[-1] (ties on validation go to it)
    pool = doses()[::-1] if method == "spft" else doses()[:1]
    cmd = ["train", "selfplay", "--config", CONFIG, f"name={method}", f"loss={method}",
           f"output_dir={out}", "pool=[" + ",".join(str(p) for p in pool) + "]",
           *(SMOKE if smoke else []), *overrides]
    if (out / method).exists():  # a killed run, or one seeded with another's pieces
        cmd.append("--resume")
    from alignsql.cli.main import main as cli
    code = cli(cmd)
    if code:
        sys.exit(code)
    summary = json.loads((out / method / "summary.json").read_text())
    # the run's, over every process it took (a session ending kills and resumes it)
    summary.update(summary["all_processes"])
    (out / f"{method}.json").write_text(json.dumps(summary, indent=2))


def trained(method: str, out: Path, smoke: bool) -> dict:
    done = out / f"{method}.json"
    if not done.exists():
        log(f"training {method}")
        subprocess.run([sys.executable, __file__, "--child", method, *(["--smoke"] if smoke
                                                                        else [])],
                       check=True, cwd=ROOT)
    return json.loads(done.read_text())


def results_of(label: str, target: str, out: Path) -> Path:
    return layout(label, target, out)[1] / "results.jsonl"


def start_results(target: str, out: Path) -> Path:
    """The start model's answers, scored here with the methods' prompt and settings (a model
    retrained by `sft_dose.py --train` has no evaluation of its own)."""
    return results_of("sft", target, out)


def vs_start(results: Path, target: str, out: Path) -> dict:
    """One target's answers paired with the start model's on the same questions."""
    c, preds = compare(start_results(target, out), results, target), _preds(results)
    return {"n": c["n"], "ex": c["ex"], "ex_sft": c["ex_untuned"], "diff_vs_sft": c["diff"],
            "ci": c["ci"], "p_value": c["p_value"], "gained": c["gained"], "lost": c["lost"],
            # answers that ran (right or wrong), and how long they are: a collapsed model
            # writes short queries that run and answer something else
            "valid": c["valid"]["tuned"], "valid_sft": c["valid"]["untuned"],
            "mean_gen_tokens": _mean_gen_tokens(preds),
            # answers cut by the token limit: a model that no longer stops (DPO's filler)
            "at_token_limit": _at_token_limit(preds),
            # GeoQuery: the start model trained on the 403 questions spider:train holds
            "unseen_in_spider_train": _start_named(c["unseen_in_spider_train"])}


def _preds(results: Path) -> list[dict]:
    """The predictions a results.jsonl was scored from."""
    return [json.loads(x) for x in preds_for(results).open()]


def _mean_gen_tokens(preds: list[dict]) -> float:
    """Mean generated tokens per answer."""
    return sum(r["gen_tokens"] for r in preds) / len(preds)


def _at_token_limit(preds: list[dict]) -> int:
    """Answers that generated MAX_NEW_TOKENS tokens (stopped by the limit, not the model)."""
    return sum(r["gen_tokens"] >= MAX_NEW_TOKENS for r in preds)


def _mean_sample_chars(folder: Path) -> float | None:
    """Mean length (characters of the raw reply) of the sampler's answers in one iteration:
    a model drifting under preference training writes longer, or shorter, SQL."""
    path = folder / "samples.jsonl"
    if not path.exists():
        return None
    lengths = [len(raw) for x in path.open() for _, raw in json.loads(x)["samples"]]
    return sum(lengths) / len(lengths) if lengths else None


def _first_last_loss(folder: Path) -> list[float] | None:
    """The loss logged at an iteration's first and last step (a step a resumed process
    trained again counts once, as last logged)."""
    by_step = {r["step"]: r["loss"] for r in read_metrics(folder / "metrics.jsonl")
               if r.get("loss") is not None}
    return [by_step[min(by_step)], by_step[max(by_step)]] if by_step else None


def _start_named(unseen: dict | None) -> dict | None:
    """compare() names its first side untuned (the dose experiment's); here it is the start."""
    if unseen is None:
        return None
    return {("ex_sft" if k == "ex_untuned" else k): v for k, v in unseen.items()}


def method_row(run: dict, results: dict[str, Path], out: Path) -> dict:
    """The issue's keys for the main target (TARGETS[0]); every target under by_target."""
    by_target = {t: vs_start(path, t, out) for t, path in results.items()}
    return {**by_target[TARGETS[0]], **run_keys(run),
            "wall_is": "the whole run (ranking, sampling, judging, training), all processes",
            "by_target": by_target}


def run_keys(run: dict) -> dict:
    """A self-play run's cost and, per iteration, its pairs, loss, validation EX and how its
    sampler drifted."""
    its = run["iterations"]
    return {"iterations": len(its),
            "pairs_per_iteration": [it.get("n_pairs") for it in its],
            # the sampler's own answers on its training questions, judged by execution: how
            # the played model drifts from one iteration to the next (not a test score)
            "samples_correct_per_iteration": [(it.get("counts") or {}).get("samples correct")
                                              for it in its],
            "mean_sample_chars_per_iteration": [
                _mean_sample_chars(Path(run["run"]) / f"iter{it['iteration']}") for it in its],
            "train_loss_per_iteration": [it.get("train_loss") for it in its],
            # a mean hides the shape: DPO's iteration 2 starts far from log 2 and ends near 0
            "first_last_step_loss_per_iteration": [
                _first_last_loss(Path(run["run"]) / f"iter{it['iteration']}") for it in its],
            "val_ex": [it.get("val_ex") for it in its],
            "wall_s": run["wall_s"], "peak_rss_mb": run["peak_rss_mb"], "final": run["final"],
            "processes": run.get("processes")}


def sft_row(out: Path) -> dict:
    """The start model as a row of its own: paired with itself (difference 0), its training
    cost from the dose run over all the processes it took (metrics.jsonl: the kept steps'
    training time, the largest peak RSS logged; the run may predate its wall.json)."""
    folder = doses()[0].parent
    run, rows = (json.loads((folder / "summary.json").read_text()),
                 read_metrics(folder / "metrics.jsonl"))
    row = method_row({"iterations": [], "wall_s": train_seconds(rows),
                      "peak_rss_mb": logged_peak_mb(rows, run["peak_rss_mb"]),
                      "final": str(doses()[0])}, {t: start_results(t, out) for t in TARGETS}, out)
    return row | {"pairs_per_iteration": None, "samples_correct_per_iteration": None,
                  "mean_sample_chars_per_iteration": None, "train_loss_per_iteration": None,
                  "first_last_step_loss_per_iteration": None,
                  "val_ex": None,
                  "wall_is": "training time of the SFT steps (no sampling)"}


def ordering(methods: dict, out: Path, kept_steps: dict) -> dict:
    """The paper's ordering, SPIN < untuned < SFT < SPFT, one paired comparison per step on
    the main target (diff = the right-hand system minus the left), and the issue's targets:
    SPFT >= SFT + 2 points with p < 0.05; SPIN not above SFT (its EX no higher).
    `kept_steps`: the committed result's steps, for those whose answers are not in `out`."""
    target, steps = TARGETS[0], dict(kept_steps)
    untuned = results_of("untuned", target, out)
    for name, left, right in (("spin_lt_untuned", "spin", "untuned"),
                              ("untuned_lt_sft", "untuned", "sft")):
        a, b = results_of(left, target, out), results_of(right, target, out)
        if untuned.exists() and a.exists() and b.exists():
            c = compare(a, b, target)
            steps[name] = {k: c[k] for k in ("n", "diff", "ci", "p_value", "gained", "lost")}
    if "spft" in methods:
        spft = methods["spft"]
        steps["sft_lt_spft"] = {"n": spft["n"], "diff": spft["diff_vs_sft"], "ci": spft["ci"],
                                "p_value": spft["p_value"], "gained": spft["gained"],
                                "lost": spft["lost"]}
    spft, spin = methods.get("spft"), methods.get("spin")
    return {"target": target, "steps": steps, "targets_met": {
        "spft_ge_sft_plus_2_p_lt_0.05": None if spft is None else bool(
            spft["diff_vs_sft"] >= 0.02 and spft["p_value"] < 0.05),
        "spin_not_above_sft": None if spin is None else bool(spin["diff_vs_sft"] <= 0)}}


def committed(smoke: bool) -> dict:
    """The committed result (none for a smoke run: plumbing keeps nothing)."""
    return {} if smoke or not RESULT.exists() else json.loads(RESULT.read_text())


def kept_rows(out: Path, smoke: bool) -> dict[str, dict]:
    """The committed rows whose runs are not in `out` (a fresh checkout lost bench/out): SPIN,
    DPO or SPFT by method, "untuned" by target. Kept as committed, paired with the start model
    as it was then (`start_as_paired`), not trained again (SPIN and DPO took ~4 h each)."""
    prev = committed(smoke)
    rows = {m: r for m, r in prev.get("methods", {}).items()
            if m in METHODS and not (out / m).exists() and not (out / f"{m}.json").exists()}
    if prev.get("untuned") and not all(results_of("untuned", t, out).exists() for t in TARGETS):
        rows["untuned"] = prev["untuned"]
    return rows


def start_as_paired(prev: dict) -> dict[str, float]:
    """The start model's EX per target as the kept rows were paired with it (the first
    committed SFT row's, carried from result to result)."""
    return prev.get("start_as_paired") or {t: prev["methods"]["sft"]["by_target"][t]["ex"]
                                           for t in TARGETS}


def summarize(out: Path, smoke: bool) -> dict:
    if not all(start_results(t, out).exists() for t in TARGETS):
        return {"methods": {}, "complete": False}  # nothing to pair with yet
    prev, kept = committed(smoke), kept_rows(out, smoke)
    methods = {"sft": sft_row(out)}
    for method in METHODS:
        run_file = out / f"{method}.json"
        evals = {t: results_of(method, t, out) for t in TARGETS}
        if run_file.exists() and all(p.exists() for p in evals.values()):
            methods[method] = method_row(json.loads(run_file.read_text()), evals, out)
        elif method in kept:
            methods[method] = kept[method]
    untuned = {t: results_of("untuned", t, out) for t in TARGETS}
    untuned_row = ({t: vs_start(p, t, out) for t, p in untuned.items()}
                   if all(p.exists() for p in untuned.values()) else kept.get("untuned"))
    kept_steps = prev.get("ordering", {}).get("steps", {}) if kept else {}
    start = doses()[0] if doses() else None
    result = {"model": "qwen2.5-coder-0.5b", "start": str(start), "pool": [str(p) for p in doses()],
              "target": TARGETS[0], "n": methods["sft"]["n"],
              "targets": TARGETS, "methods": methods, "smoke": smoke,
              # the base model, same prompt and questions; diff_vs_sft = untuned - start
              "untuned": untuned_row, "ordering": ordering(methods, out, kept_steps),
              # rows (and ordering steps) kept from the committed result, not run again
              "kept": sorted(kept),
              **({"start_as_paired": start_as_paired(prev)} if kept else {}),
              "complete": all(m in methods for m in METHODS), "config": CONFIG,
              "machine": {"cpus": os.cpu_count(), "cpu": cpu(),
                          "python": platform.python_version(), "load_avg": os.getloadavg()},
              "command": "python bench/selfplay_qwen.py" + (" --smoke" if smoke else "")}
    if methods and not smoke:  # a smoke run proves the plumbing; it is no result
        RESULT.write_text(json.dumps(result, indent=2))
    return result


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def paired_cell(row: dict) -> str:
    """"+0.012 [-0.010, +0.035] | 0.31 (41 / 33)": difference, interval, p (gained / lost)."""
    lo, hi = row["ci"]
    diff = row.get("diff_vs_sft", row.get("diff"))
    return (f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}] | {row['p_value']:.2g} "
            f"({row['gained']} / {row['lost']})")


def table(result: dict) -> str:
    """The systems as markdown rows for docs/results.md, straight from the result."""
    geo = TARGETS[1]
    head = ("| system | iterations | pairs per iteration | EX, Spider dev test | vs SFT [95% CI] "
            "| p (gained / lost) | EX, GeoQuery | vs SFT [95% CI] | p (gained / lost) "
            "| wall h (processes) | peak RSS GB |\n|" + "---|" * 11)
    rows = [head]
    systems = ([("untuned", {**result["untuned"][TARGETS[0]], "by_target": result["untuned"]})]
               if result.get("untuned") else []) + list(result["methods"].items())
    for name, m in systems:
        g = m["by_target"][geo]
        wall = f"{m['wall_s'] / 3600:.2f}" if m.get("wall_s") else ""
        wall += f" ({m['processes']})" if m.get("processes") else ""
        peak = f"{m['peak_rss_mb'] / 1024:.1f}" if m.get("peak_rss_mb") else ""
        pairs = ", ".join(str(n) for n in m.get("pairs_per_iteration") or [])
        rows.append(f"| {name} | {m.get('iterations', '')} | {pairs} | {_pct(m['ex'])} | "
                    f"{paired_cell(m)} | {_pct(g['ex'])} | {paired_cell(g)} | {wall} | {peak} |")
    steps = result.get("ordering", {}).get("steps", {})
    rows += ["", "| step of the paper's ordering | difference [95% CI] | p (gained / lost) |",
             "|---|---|---|"]
    rows += [f"| {k.replace('_lt_', ' < ')} | {paired_cell(v)} |" for k, v in steps.items()]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--summarize", action="store_true")
    ap.add_argument("--table", action="store_true",
                    help="print bench/results/selfplay_qwen.json as markdown")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(RESULT.read_text())))
        return
    out = ROOT / "bench" / "out" / ("selfplay_qwen_smoke" if args.smoke else "selfplay_qwen")
    if args.child:
        child(args.child, out, args.smoke)
        return
    if not doses():
        sys.exit("no finished SFT model under bench/out/sft_dose/runs: run bench/sft_dose.py")
    if args.summarize:
        print(json.dumps(summarize(out, args.smoke), indent=2))
        return
    sample = ["--sample", "20"] if args.smoke else []
    kept = kept_rows(out, args.smoke)
    if kept and doses()[0].parent.name != "dose_all":  # a failed retraining must not pass
        sys.exit(f"the kept rows ({', '.join(sorted(kept))}) started from dose_all, which is "
                 f"not finished under {DOSE_OUT / 'runs'}: run bench/sft_dose.py --train 0")
    for target in TARGETS:  # the start model: every method is paired with it
        scored(str(doses()[0]), "sft", target, out, PROMPT + sample)
    for target in TARGETS if "untuned" not in kept else ():  # the paper's ordering puts the
        scored(BASE, "untuned", target, out, PROMPT + sample)  # base between SPIN and SFT
    for method in METHODS:
        if method in kept:
            log(f"{method}: kept from {RESULT.relative_to(ROOT)} (no run in {out})")
            continue
        final = trained(method, out, args.smoke)["final"]
        for target in TARGETS:
            scored(final, method, target, out, PROMPT + sample)
        summarize(out, args.smoke)
    log(json.dumps(summarize(out, args.smoke)["methods"], indent=1))


if __name__ == "__main__":
    main()
