"""Render an alignment report as Markdown and as a self-contained HTML page."""
from __future__ import annotations

import json
from pathlib import Path

from alignsql.report import html as H

_INTRO = ("KL-alignment A = exp(-KL/c) between template n-gram distributions (1 = identical; "
          "c is a fixed reference scale unless the report says otherwise, so A compares "
          "across reports). "
          "AR = A(train, target) / A(model predictions, target): AR > 1 predicts that "
          "fine-tuning on that training set helps on the target.")


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else ("–" if v is None else str(v))


def _md_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _intervals(report: dict) -> dict[tuple[str, str], list[float]]:
    """The bias-corrected 95% interval of each pair's A (the whole-target bootstrap row)."""
    out = {}
    for boot in report.get("bootstrap", []):
        for i in boot["intervals"]:
            if i.get("ci"):
                out[(boot["source"], boot["target"])] = i["ci"]
    return out


def _pair_table(report: dict) -> tuple[list[str], list[list[object]]]:
    cis = _intervals(report)
    headers = ["source", "target", "A", "A 95% CI", "KL", "OVLP", "Jaccard", "n source",
               "n target", "unparsed"]
    rows = []
    for p in sorted(report["pairs"], key=lambda p: (p["target"], -p["alignment"])):
        ci = cis.get((p["source"], p["target"]))
        rows.append([p["source"], p["target"], p["alignment"],
                     f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else None, p["kl"], p["ovlp"],
                     p["jaccard"], p["n_source"], p["n_target"],
                     p["unparsed_source"] + p["unparsed_target"]])
    return headers, rows


def _scale_note(report: dict) -> str:
    return f"KL scale c = {report['kl_scale']:.4f} ({report.get('kl_scale_source', 'given')})"


def _ar_table(report: dict) -> tuple[list[str], list[list[object]]]:
    headers = ["train", "target", "predictions", "A(train)", "A(preds)", "AR", "SFT predicted to"]
    rows = [[r["train"], r["target"], r["preds"], r["a_train"], r["a_preds"], r["ar"],
             "help" if (r["ar"] or 0) > 1 else "not help"] for r in report["ar"]]
    return headers, rows


def _gain_note(g: dict) -> str:
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731

    def ci(key: str) -> str:
        band = g.get(key)
        return f" (95% CI over pairs {fmt(band[0])} to {fmt(band[1])})" if band else ""
    return (f"{g['n_pairs']} pairs: sign(AR - 1) agrees with the sign of the gain on "
            f"{fmt(g['sign_agreement'])} of them{ci('sign_agreement_ci')}; Spearman's rho "
            f"{fmt(g['spearman'])}{ci('spearman_ci')}.")


def markdown(report: dict) -> str:
    out = ["# Dataset alignment report", "", _INTRO, "", _scale_note(report), ""]
    out += ["## Pairs", "", _md_table(*_pair_table(report)), ""]
    if report.get("ar"):
        out += ["## Alignment Ratio", "", _md_table(*_ar_table(report)), ""]
    if report.get("ar_vs_gain"):
        g = report["ar_vs_gain"]
        out += ["## AR against the measured gain", "", _gain_note(g), "",
                _md_table(["train", "target", "AR", "EX gain"],
                          [[r["train"], r["target"], r["ar"], r["gain"]] for r in g["rows"]]), ""]
    for boot in report.get("bootstrap", []):
        rows = [[i["k"], i["median"], i["lo"], i["hi"]] for i in boot["intervals"]]
        out += [f"## A measured on k target queries: {boot['source']} → {boot['target']}", "",
                "Percentiles of A over resampled k-query targets: the spread a user with k "
                "queries would see (small samples read A low). The table's interval of A is "
                "the bias-corrected one.", "",
                _md_table(["target k", "median", "2.5%", "97.5%"], rows), ""]
    for ex in report.get("explanations", []):
        rows = [[f"`{g['ngram']}`", g["freq_target"], g["freq_source"], g["term"]]
                for g in ex["target_lacks_in_source"][:10]]
        out += [f"## What {ex['target']} does that {ex['source']} lacks", "",
                _md_table(["n-gram", "freq in target", "freq in source", "KL term"], rows), ""]
    return "\n".join(out)


def html(report: dict) -> str:
    pairs = report["pairs"]
    sources = list(dict.fromkeys(p["source"] for p in pairs))
    targets = list(dict.fromkeys(p["target"] for p in pairs))
    values = {(p["source"], p["target"]): p["alignment"] for p in pairs}
    body = [f"<p>{H.escape(_INTRO)}</p><p class='note'>{H.escape(_scale_note(report))}; "
            f"{report.get('vocab_size', 0):,} distinct n-grams.</p>",
            "<h2>Alignment matrix</h2>", H.heatmap(sources, targets, values),
            "<h2>Pairs</h2>", H.table(*_pair_table(report))]
    if report.get("ar"):
        body += ["<h2>Alignment Ratio</h2>", H.table(*_ar_table(report))]
    if report.get("ar_vs_gain"):
        g = report["ar_vs_gain"]
        body += ["<h2>AR against the measured gain</h2>",
                 f"<p class='note'>{H.escape(_gain_note(g))}</p>",
                 H.scatter([(r["ar"], r["gain"], f"{r['train']} → {r['target']}")
                            for r in g["rows"]], x_label="AR", y_label="EX gain",
                           x_mark=1.0, y_mark=0.0)]
    if report.get("bootstrap"):
        bars = [(f"{b['source']}→{b['target']} k={i['k']}", i["lo"], i["median"], i["hi"])
                for b in report["bootstrap"] for i in b["intervals"]]
        body += ["<h2>How many target queries are enough?</h2>",
                 "<p class='note'>A measured on resampled targets of k queries (2.5-97.5 "
                 "percentiles, median dot): the spread a user holding only k queries would see; "
                 "small samples read A low. The pairs table gives the interval of A itself.</p>",
                 H.interval_bars(bars)]
    if report.get("explanations"):
        body.append("<h2>Why pairs diverge</h2><p class='note'>The n-grams with the largest "
                    "terms of D(target‖source): what the target does that the source lacks.</p>")
    for ex in report.get("explanations", []):
        rows = [[g["ngram"], g["freq_target"], g["freq_source"], g["term"]]
                for g in ex["target_lacks_in_source"][:10]]
        body.append(f"<details><summary>What <b>{H.escape(ex['target'])}</b> does that "
                    f"<b>{H.escape(ex['source'])}</b> lacks</summary>"
                    + H.table(["n-gram", "freq in target", "freq in source", "KL term"], rows)
                    + "</details>")
    return H.page("Dataset alignment report", "".join(body))


def write(report: dict, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "report.html"]
    paths[0].write_text(json.dumps(report, indent=2))
    paths[1].write_text(markdown(report), errors="replace")
    paths[2].write_text(html(report), errors="replace")
    return paths
