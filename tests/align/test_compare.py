import pytest

from alignsql.align.compare import CompareOptions, compare
from alignsql.align.profile import profile_examples
from alignsql.align.selection import select
from alignsql.align.space import NgramSpace
from alignsql.data.example import Example


def _prof(name: str, sqls: list[str]):
    return profile_examples(name, [Example("q", s, id=str(i)) for i, s in enumerate(sqls)],
                            workers=1)


SPIDERISH = ["SELECT count(*) FROM a", "SELECT T1.x FROM a AS T1 JOIN b AS T2 ON T1.i = T2.i",
             "SELECT x FROM a ORDER BY y DESC LIMIT 1", "SELECT count(*) FROM b WHERE c > 3"]
WIKIISH = ["SELECT x FROM t WHERE y = 'a'", "SELECT max(x) FROM t WHERE y = 'b' AND z = 2",
           "SELECT x FROM t WHERE y = 'c'"]


def test_self_alignment_is_exactly_one() -> None:
    p = _prof("a", SPIDERISH)
    report = compare({"a": p}, {"b": _prof("b", SPIDERISH)}, opts=CompareOptions(bootstrap_sizes=[]))
    assert report["pairs"][0]["kl"] == 0.0
    assert report["pairs"][0]["alignment"] == 1.0


def test_least_aligned_pair_scores_one_over_e_and_ar() -> None:
    """With the paper's per-report scale (kl_scale_mode report) the least aligned pair scores
    exactly 1/e; the default reference scale is a constant, so A = exp(-KL / 6.9432...)."""
    import math

    from alignsql.align.metrics import REFERENCE_KL_SCALE
    profs = ({"spiderish": _prof("s", SPIDERISH), "wikiish": _prof("w", WIKIISH)},
             {"target": _prof("t", SPIDERISH[:3])})
    preds = {"preds": _prof("p", WIKIISH[:2])}
    report = compare(*profs, preds=preds, opts=CompareOptions(bootstrap_sizes=[2, 0], n_boot=20,
                                                              kl_scale_mode="report"))
    a = {r["source"]: r["alignment"] for r in report["pairs"]}
    assert min(a.values()) == pytest.approx(0.36787944117)
    ref = compare(*profs, preds=preds, opts=CompareOptions(bootstrap_sizes=[]))
    assert ref["kl_scale"] == REFERENCE_KL_SCALE and ref["kl_scale_source"].startswith("reference")
    for row in ref["pairs"]:
        assert row["alignment"] == pytest.approx(math.exp(-row["kl"] / REFERENCE_KL_SCALE))
    assert a["spiderish"] > a["wikiish"]
    (ar,) = [r for r in report["ar"] if r["train"] == "spiderish"]
    assert ar["ar"] == pytest.approx(a["spiderish"] / a["preds"]) and ar["ar"] > 1
    top = report["explanations"][2]["target_lacks_in_source"]  # wikiish vs target
    assert any("JOIN" in g["ngram"] for g in top)
    assert report["bootstrap"][0]["intervals"][-1]["all"]


def test_empty_distribution_is_an_error() -> None:
    with pytest.raises(ValueError):
        compare({"x": _prof("x", ["SELEC"])}, {"t": _prof("t", SPIDERISH)})


def test_selection_prefers_matching_templates() -> None:
    pool = _prof("pool", WIKIISH * 10 + SPIDERISH)
    target = _prof("t", SPIDERISH)
    rows = select(pool, target, 4, NgramSpace(15))
    assert sorted(rows) == list(range(30, 34))


def test_whole_target_interval_is_of_the_shown_a() -> None:
    """A = 1 (source equals target): every resample diverges, so plain percentiles lie below
    1 and exclude the shown A; the bias-corrected interval is of A itself and holds it."""
    p = _prof("a", SPIDERISH * 5)
    report = compare({"a": p}, {"b": _prof("b", SPIDERISH * 5)},
                     opts=CompareOptions(bootstrap_sizes=[0], n_boot=200))
    row = report["bootstrap"][0]["intervals"][0]
    assert row["a"] == 1.0 and row["hi"] < 1.0  # the old, misleading interval
    assert row["ci"][0] <= 1.0 <= row["ci"][1]


def test_bias_corrected_interval_by_hand() -> None:
    """values 0.5, 0.6, 0.7 (mean 0.6), estimate 0.8: bias 0.6 - 0.8 = -0.2, shifted values
    0.7, 0.8, 0.9; numpy's linear percentiles at 2.5% and 97.5% of three points:
    0.7 + 0.05 * 0.1 = 0.705 and 0.9 - 0.005 = 0.895."""
    import numpy as np

    from alignsql.align.compare import bias_corrected_interval
    lo, hi = bias_corrected_interval(np.array([0.5, 0.6, 0.7]), 0.8)
    assert lo == pytest.approx(0.705) and hi == pytest.approx(0.895)


def test_report_html_escapes_dataset_names_and_fits_labels() -> None:
    from alignsql.align.render import html
    evil = "file:x<img src=y onerror=alert(1)>.jsonl"
    report = compare({evil: _prof("e", SPIDERISH)}, {"spider:dev": _prof("t", SPIDERISH[:3])},
                     opts=CompareOptions(bootstrap_sizes=[0], n_boot=5))
    page = html(report)
    assert "<img" not in page and "&lt;img" in page
    from alignsql.report.html import CHAR_PX, interval_bars
    svg = interval_bars([("a" * 60, 0.1, 0.2, 0.3)])
    assert f"x='{int(60 * CHAR_PX) + 16 - 8}'" in svg  # the label ends left of the axis
