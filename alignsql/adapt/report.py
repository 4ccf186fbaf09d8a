"""The one page an ``alignsql adapt`` run leaves: what was done, what it bought, how to use it."""
from __future__ import annotations

import json
from html import escape

from alignsql.report import html as H


def _result(ev: dict) -> str:
    if ev.get("n", 0) == 0:
        return f"<p class='bad'>{escape(ev.get('note', 'no evaluation'))}</p>"
    lo, hi = ev["ci"]
    verdict = ("the tuned model is better (the interval excludes 0)" if lo > 0 else
               "the tuned model is worse (the interval excludes 0)" if hi < 0 else
               "no difference outside noise (the interval includes 0)")
    warn = ("<p class='bad'><b>These test pairs are synthetic</b> (held out from this run's "
            "own synthesis, on your database): they are easier and closer to the training data "
            "than real questions. Give <code>--test FILE</code> with real question/SQL pairs "
            "to measure the gain.</p>") if ev["test_is_synthetic"] else ""
    return (warn + H.cards([("EX untuned", ev["ex_untuned"]), ("EX tuned", ev["ex_tuned"]),
                            ("difference", ev["diff"]), ("95% CI low", lo), ("95% CI high", hi),
                            ("McNemar p", ev["p_value"]), ("questions", ev["n"])])
            + f"<p>{escape(verdict)}; {ev['gained']} questions gained, {ev['lost']} lost.</p>")


def _flipped(run) -> str:
    path = run.out / "eval" / "compare.json"
    if not path.exists():
        return ""
    cmp = json.loads(path.read_text())
    parts = []
    for key, title in (("b_right_a_wrong", "Now right (were wrong)"),
                       ("a_right_b_wrong", "Now wrong (were right)")):
        rows = [[r["question"], r["sql_a"] or "", r["sql_b"] or "", r["gold"]]
                for r in cmp[key][:30]]
        parts += [f"<h3>{title}: {len(cmp[key])}</h3>",
                  H.table(["question", "untuned SQL", "tuned SQL", "reference SQL"], rows)]
    return "".join(parts)


def _stages(results: dict) -> str:
    rows = [[name, f"{r.get('seconds', 0) / 60:.1f} min"] for name, r in results.items()]
    return H.table(["stage", "time"], rows)


def _data(results: dict) -> str:
    prof, sel, syn, tr = (results[k] for k in ("profile", "select", "synth", "train"))
    rows = [["database tables / columns", f"{prof['tables']} / {prof['columns']}"],
            ["workload queries", prof.get("workload", {}).get("n", "none given")],
            ["test pairs", prof.get("test", {}).get("n", "none given (synthetic hold-out)")],
            ["public examples selected",
             f"{sel['n']} ({'aligned to the workload' if sel['steered'] else 'seeded sample'})"],
            ["synthetic queries verified", syn.get("verified_sql", 0)],
            ["synthetic pairs kept (round trip)", syn["n_train"] + syn["n_val"]],
            ["training examples / steps", f"{tr['n_train']} / {tr['steps']}"]]
    align = prof.get("workload", {}).get("alignment", [])
    table = H.table(["public set", "KL to workload", "OVLP"],
                    [[a["source"], a["kl"], a["ovlp"]] for a in align]) if align else ""
    return H.table(["", ""], rows) + table


def html(run, results: dict) -> str:
    tuned = results["train"]["merged"]
    use = (f"<pre>alignsql serve --model {escape(tuned)} --db {escape(str(run.db))}</pre>"
           f"<p>then open <code>http://127.0.0.1:8000/</code> or POST "
           f"<code>/v1/ask {{\"question\": ..., \"db\": \"{escape(run.db.stem)}\"}}</code>. "
           f"The model directory loads anywhere transformers does.</p>")
    body = ["<h2>Result</h2>", _result(results["evaluate"]),
            "<h2>Use the tuned model</h2>", use,
            "<h2>Data</h2>", _data(results), "<h2>Plan and time</h2>",
            f"<p>{escape(_plan_text(results['plan']))}</p>", _fit_text(results), _stages(results),
            "<h2>Questions that changed</h2>", _flipped(run)]
    return H.page(f"alignsql adapt: {run.db.name}", "".join(body))


def _fit_text(results: dict) -> str:
    from alignsql.adapt.stages import describe_fit
    fit = describe_fit(results["select"])
    return f"<p>Selection: {escape(fit)}</p>" if fit else ""


def _plan_text(plan: dict) -> str:
    from alignsql.adapt.stages import describe
    return describe(plan)
