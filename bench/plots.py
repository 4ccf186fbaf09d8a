"""The figures of docs/results.md, drawn from the committed results only (no model runs).

The dose and self-play panels show paired differences, the quantity the docs test: a
system's EX minus its reference's on the same questions, with the 95% bootstrap interval the
JSON holds; LR-SQL's (100 questions) shows each system's own EX and recall with its interval.

    python bench/plots.py                  # every figure whose JSON exists
    python bench/plots.py --only selfplay  # one of: dose, selfplay, lrsql
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
TEAL, AMBER, GREY, RED = "#0d7377", "#b45309", "#8a8a8a", "#b91c1c"
TARGET_NAMES = {"spider:dev": "Spider dev", "spider:dev@test": "Spider dev (test part)",
                "geoquery:all": "GeoQuery", "kaggledbqa:all": "KaggleDBQA"}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def points(diff: float, ci: list[float]) -> tuple[float, list[list[float]]]:
    """A difference and its interval in points, as errorbar wants them (distances)."""
    d, lo, hi = 100 * diff, 100 * ci[0], 100 * ci[1]
    return d, [[d - lo], [hi - d]]


def _zero(ax, vertical: bool = False) -> None:
    (ax.axvline if vertical else ax.axhline)(0, color=GREY, lw=0.8)


def dose(result: dict, out: Path) -> Path:
    """SFT dose-response: EX gain over the untuned model per dose, one line per target."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    size = {r["dose"]: result["training"][f"dose_{r['dose']}"]["n_train"]
            for r in result["runs"]}  # "all" is every example: its count is in training
    doses = sorted(set(size.values()))
    targets = list(dict.fromkeys(r["target"] for r in result["runs"]))
    for color, target in zip((TEAL, AMBER, GREY, RED), targets):
        runs = sorted((r for r in result["runs"] if r["target"] == target),
                      key=lambda r: size[r["dose"]])
        xs = [doses.index(size[r["dose"]]) for r in runs]
        ys, errs = zip(*(points(r["diff"], r["ci"]) for r in runs))
        ax.errorbar(xs, ys, yerr=[[e[0][0] for e in errs], [e[1][0] for e in errs]],
                    fmt="o-", color=color, capsize=3, label=f"{TARGET_NAMES.get(target, target)} "
                    f"(n = {runs[0]['n']}, untuned {runs[0]['ex_untuned']:.3f})")
    _zero(ax)
    ax.set_xticks(range(len(doses)), [f"{d:,}" for d in doses])
    ax.set_xlabel("spider:train examples (LoRA, one epoch)")
    ax.set_ylabel("EX gain over untuned (points, 95% CI)")
    ax.set_title(f"SFT dose-response, {result['model']}", fontsize=10)
    ax.legend(fontsize=7.5)
    return _save(fig, out / "sft_dose.png")


def _system_rows(result: dict, target: str) -> list[tuple[str, dict]]:
    """(label, paired row vs SFT) for every system on one target, the start model left out."""
    rows = []
    if result.get("untuned"):
        rows.append(("untuned", result["untuned"][target]))
    for name, m in result["methods"].items():
        if name != "sft":
            rows.append((name.upper(), m["by_target"][target]))
    return rows


def _verdict_color(diff: float, row: dict) -> str:
    """Red: below SFT at p < 0.05; teal: above it at p < 0.05; grey: inside noise."""
    if row["p_value"] >= 0.05:
        return GREY
    return RED if diff < 0 else TEAL


def selfplay(result: dict, out: Path) -> Path:
    """Self-play from one start: each system's EX minus the SFT start's, per target."""
    plt = _plt()
    targets = result["targets"]
    fig, axes = plt.subplots(1, len(targets), figsize=(5.2 * len(targets), 3.4), sharey=True)
    for ax, target in zip(axes, targets):
        rows = _system_rows(result, target)
        for y, (label, r) in enumerate(rows):
            d, err = points(r["diff_vs_sft"], r["ci"])
            ax.errorbar(d, y, xerr=err, fmt="o", capsize=3, color=_verdict_color(d, r))
            ax.annotate(f"{r['ex']:.3f}", (d, y), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize=7.5)
        ax.set_yticks(range(len(rows)), [label for label, _ in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        _zero(ax, vertical=True)
        sft = result["methods"]["sft"]["by_target"][target]["ex"]
        ax.set_title(f"{TARGET_NAMES.get(target, target)}: SFT start {sft:.3f}", fontsize=9)
        ax.set_xlabel("EX minus SFT's (points, 95% CI; label: EX); red / teal: p < 0.05")
    fig.suptitle(f"Self-play from one SFT start, {result['model']}", fontsize=10)
    return _save(fig, out / "selfplay_qwen.png")


def lrsql(result: dict, out: Path) -> Path:
    """LR-SQL on 153 tables: EX and table recall of each system, with intervals."""
    plt = _plt()
    systems = list(result["systems"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    for ax, key, label in zip(axes, ("ex", "recall"), ("EX", "gold-table recall")):
        for y, name in enumerate(systems):
            s = result["systems"][name]
            lo, hi = s[f"{key}_ci"]
            ax.errorbar(s[key], y, xerr=[[s[key] - lo], [hi - s[key]]], fmt="o", capsize=3,
                        color=AMBER if name.startswith("lrsql") else TEAL)
        ax.set_yticks(range(len(systems)), [n.replace("_", " ") for n in systems])
        # each system's own interval: the paired differences are in docs/results.md's table
        ax.set_xlabel(f"{label} (each system's 95% CI, n = {result['systems'][systems[0]]['n']})")
        ax.set_xlim(left=0)
    fig.suptitle(f"LR-SQL on a {result['n_tables']}-table schema, {result['model']}",
                 fontsize=10)
    return _save(fig, out / "lrsql_qwen.png")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


FIGURES = {"dose": ("sft_dose.json", dose), "selfplay": ("selfplay_qwen.json", selfplay),
           "lrsql": ("lrsql_qwen.json", lrsql)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=list(FIGURES))
    args = ap.parse_args()
    for name, (file, draw) in FIGURES.items():
        if args.only in (None, name) and (RESULTS / file).exists():
            print(draw(json.loads((RESULTS / file).read_text()), DOCS).relative_to(ROOT))


if __name__ == "__main__":
    main()
