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
    report = compare({"spiderish": _prof("s", SPIDERISH), "wikiish": _prof("w", WIKIISH)},
                     {"target": _prof("t", SPIDERISH[:3])},
                     preds={"preds": _prof("p", WIKIISH[:2])},
                     opts=CompareOptions(bootstrap_sizes=[2, 0], n_boot=20))
    a = {r["source"]: r["alignment"] for r in report["pairs"]}
    assert min(a.values()) == pytest.approx(0.36787944117)
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
