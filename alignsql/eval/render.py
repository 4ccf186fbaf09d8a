"""Evaluation reports: Markdown and a self-contained HTML page."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from alignsql.eval.evaluate import CORRECT, ExampleResult, Summary
from alignsql.report import html as H


def _rows(breakdown: dict) -> list[list[object]]:
    return [[k, v["n"], v["ex"]] for k, v in breakdown.items()]


def markdown(summary: Summary, dataset: str) -> str:
    lines = [f"# Evaluation: {dataset}", "",
             f"EX **{summary.ex:.3f}** on {summary.n_scored} scored of {summary.n} examples; "
             f"valid SQL {summary.valid:.3f}; template match {summary.template_match:.3f}"
             + (f"; VES {summary.ves:.3f}" if summary.ves is not None else "") + ".", ""]
    for title, part in (("Hardness", summary.by_hardness), ("Difficulty", summary.by_difficulty),
                        ("Database", summary.by_db)):
        if part:
            lines += [f"## By {title.lower()}", "", f"| {title} | n | EX |", "|---|---|---|"]
            lines += [f"| {k} | {n} | {ex:.3f} |" for k, n, ex in _rows(part)] + [""]
    if summary.errors:
        lines += ["## Errors and skips", "", "| kind | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in summary.errors.items()] + [""]
    lines.append(f"Evaluator version {summary.version}.")
    return "\n".join(lines)


def html(results: Sequence[ExampleResult], summary: Summary, dataset: str) -> str:
    body = [H.cards([("EX", summary.ex), ("scored", summary.n_scored), ("examples", summary.n),
                     ("valid SQL", summary.valid), ("template match", summary.template_match)]
                    + ([("VES", summary.ves)] if summary.ves is not None else []))]
    for title, part in (("hardness", summary.by_hardness), ("difficulty", summary.by_difficulty)):
        if part:
            bars = [(f"{k} (n={v['n']})", v["ex"], v["ex"], v["ex"]) for k, v in part.items()]
            body += [f"<h2>EX by {title}</h2>", H.interval_bars(bars)]
    if summary.by_db:
        body += ["<h2>EX by database</h2>", H.table(["database", "n", "EX"], _rows(summary.by_db))]
    if summary.errors:
        body += ["<h2>Errors and skips</h2>", H.table(["kind", "count"], summary.errors.items())]
    wrong = [r for r in results if r.scored and r.status != CORRECT][:50]
    if wrong:
        body += ["<h2>First failures</h2>",
                 H.table(["id", "status", "error", "prediction", "gold"],
                         [[r.id, r.status, r.pred_error or "", (r.pred_sql or "")[:160],
                           r.gold_sql[:160]] for r in wrong])]
    body.append(f"<p class='note'>Evaluator version {summary.version}.</p>")
    return H.page(f"Evaluation: {dataset}", "".join(body))


def write_reports(results: Sequence[ExampleResult], summary: Summary, dataset: str,
                  out: Path) -> None:
    # errors="replace": a lone surrogate in model output must not fail the report
    (out / "report.md").write_text(markdown(summary, dataset), errors="replace")
    (out / "report.html").write_text(html(results, summary, dataset), errors="replace")


def _ci(result: dict) -> str:
    lo, hi = result["ci"]
    return f"{result['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def compare_markdown(result: dict) -> str:
    lines = [f"# Paired comparison on {result['dataset']}", "",
             f"- A: `{result['a']}`: EX **{result['ex_a']:.3f}**",
             f"- B: `{result['b']}`: EX **{result['ex_b']:.3f}**",
             f"- B - A: **{_ci(result)}** (paired bootstrap 95%, {result['n_boot']} resamples); "
             f"exact McNemar p = {result['p_value']:.4g}; {result['n']} questions scored in both; "
             f"A only right {result['a_only']}, B only right {result['b_only']}.", "",
             "| hardness | n | EX A | EX B |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['ex_a']:.3f} | {v['ex_b']:.3f} |"
              for k, v in result["by_hardness"].items()]
    for key, title in (("b_right_a_wrong", "B right, A wrong"), ("a_right_b_wrong",
                                                                 "A right, B wrong")):
        lines += ["", f"## {title} ({len(result[key])})", ""]
        lines += [f"- `{r['id']}` {r['question']}: A `{r['sql_a']}` / B `{r['sql_b']}`"
                  for r in result[key][:50]]
    return "\n".join(lines) + "\n"


def compare_html(result: dict) -> str:
    body = [H.cards([("EX A", result["ex_a"]), ("EX B", result["ex_b"]),
                     ("B - A", result["diff"]), ("95% CI low", result["ci"][0]),
                     ("95% CI high", result["ci"][1]), ("McNemar p", result["p_value"]),
                     ("questions", result["n"])]),
            f"<p class='note'>A = {H.escape(result['a'])}; B = {H.escape(result['b'])}; "
            f"paired bootstrap over questions ({result['n_boot']} resamples); exact McNemar "
            f"test on the {result['a_only'] + result['b_only']} discordant questions.</p>"]
    bars = []
    for level, v in result["by_hardness"].items():
        bars += [(f"{level} A (n={v['n']})", v["ex_a"], v["ex_a"], v["ex_a"]),
                 (f"{level} B (n={v['n']})", v["ex_b"], v["ex_b"], v["ex_b"])]
    if bars:
        body += ["<h2>EX by hardness, side by side</h2>", H.interval_bars(bars)]
    for key, title in (("b_right_a_wrong", "B right, A wrong"), ("a_right_b_wrong",
                                                                 "A right, B wrong")):
        rows = [[r["id"], r["question"], r["sql_a"] or "", r["sql_b"] or "", r["gold"],
                 r.get("rows_a", ""), r.get("rows_b", ""), r.get("gold_rows", "")]
                for r in result[key][:50]]
        body += [f"<h2>{title} ({len(result[key])})</h2>",
                 H.table(["id", "question", "SQL A", "SQL B", "gold", "rows A", "rows B",
                          "gold rows"], rows)]
    return H.page(f"Paired comparison: {result['dataset']}", "".join(body))
