"""Paired significance: the exact McNemar test and the paired bootstrap against values
derived by hand, and `alignsql eval --compare` end to end on Spider dev."""
import json

import pytest

from alignsql.eval.significance import (
    mcnemar_exact,
    mean_interval,
    paired_bootstrap,
    paired_comparison,
)


def test_mcnemar_exact_by_hand() -> None:
    """p = min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c, 1/2).
    b=1, c=5:  n=6,  P(X<=1) = (1 + 6)/64            -> p = 14/64   = 0.21875
    b=2, c=8:  n=10, P(X<=2) = (1 + 10 + 45)/1024    -> p = 112/1024 = 0.109375
    b=0, c=10: n=10, P(X<=0) = 1/1024                -> p = 2/1024  = 0.001953125
    b=5, c=5:  2 P(X<=5) = 2 * 638/1024 > 1          -> p = 1
    b=c=0: no discordant question                    -> p = 1"""
    assert mcnemar_exact(1, 5) == pytest.approx(0.21875)
    assert mcnemar_exact(5, 1) == pytest.approx(0.21875)
    assert mcnemar_exact(2, 8) == pytest.approx(0.109375)
    assert mcnemar_exact(0, 10) == pytest.approx(0.001953125)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_paired_bootstrap_by_hand() -> None:
    """Identical systems: every resample's difference is 0 -> [0, 0]. B right everywhere A is
    wrong everywhere: every difference is 1 -> [1, 1]. A right on half of 100 questions, B on
    all: the difference is 0.5; its resampled values are Binomial(100, 1/2)/100, whose 95%
    range is about 0.5 +- 0.1, and the interval is seeded (same seed, same interval)."""
    same = [1, 0, 1, 1, 0]
    assert paired_bootstrap(same, same, 500) == (0.0, 0.0)
    assert paired_bootstrap([0] * 7, [1] * 7, 500) == (1.0, 1.0)
    lo, hi = paired_bootstrap([1, 0] * 50, [1] * 100, 4000, seed=3)
    assert 0.38 <= lo < 0.5 < hi <= 0.62
    assert paired_bootstrap([1, 0] * 50, [1] * 100, 4000, seed=3) == (lo, hi)
    with pytest.raises(ValueError):
        paired_bootstrap([1], [1, 0])


def test_bootstrap_of_scores_by_hand() -> None:
    """Per-question scores, not only 0/1: recall 0.5 everywhere for A and 0.75 for B -> every
    resampled difference is 0.25 -> [0.25, 0.25]; one system's mean of constant 0.4 -> [0.4,
    0.4]; scores 0 and 1 alternating over 100 questions: mean 0.5, interval about 0.5 +- 0.1."""
    assert paired_bootstrap([0.5] * 9, [0.75] * 9, 300) == (0.25, 0.25)
    assert mean_interval([0.4] * 6, 300) == pytest.approx((0.4, 0.4))
    lo, hi = mean_interval([0.0, 1.0] * 50, 4000, seed=1)
    assert 0.38 <= lo < 0.5 < hi <= 0.62


def test_paired_comparison_counts() -> None:
    """a = 1 1 0 0 1, b = 1 0 1 1 1: A only right on q2 (1), B only on q3, q4 (2);
    EX 0.6 -> 0.8, diff 0.2, p = min(1, 2 * (1 + 3)/8) = 1."""
    r = paired_comparison([1, 1, 0, 0, 1], [1, 0, 1, 1, 1], 200)
    assert (r["ex_a"], r["ex_b"], r["a_only"], r["b_only"]) == (0.6, 0.8, 1, 2)
    assert r["diff"] == pytest.approx(0.2) and r["p_value"] == 1.0


def test_eval_compare_end_to_end(capsys, data_root, tmp_path) -> None:
    """B = gold on the first 30 questions; A = gold with 6 answers broken: B - A = 0.2, all 6
    discordant one way (p = 2/64), flipped questions listed with both SQLs and result rows."""
    from alignsql.cli.main import main
    from alignsql.data import registry
    ds = registry.load("spider:dev", data_root)
    gold = [e for e in ds.examples if ds.db_path(e.db_id)][:30]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(json.dumps({"id": e.id, "sql": "SELECT 12345" if i % 5 == 0
                                       else e.sql}) for i, e in enumerate(gold)))
    b.write_text("\n".join(json.dumps({"id": e.id, "sql": e.sql}) for e in gold))
    code = main(["eval", "--dataset", "spider:dev", "--only-predicted", "--compare", str(a),
                 "--compare", str(b), "--out", str(tmp_path / "cmp"), "--json", "--n-boot", "500"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n"] == 30
    assert out["diff"] == pytest.approx(0.2) and out["p_value"] == pytest.approx(2 / 64)
    full = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert len(full["b_right_a_wrong"]) == 6 and not full["a_right_b_wrong"]
    flip = full["b_right_a_wrong"][0]
    assert flip["sql_a"] == "SELECT 12345" and flip["rows_a"] == "[(12345,)]" and flip["question"]
    assert "Paired comparison" in (tmp_path / "cmp" / "compare.html").read_text()
    # the eval's own results.jsonl works as a system too
    main(["eval", "--dataset", "spider:dev", "--only-predicted", "--preds", str(a), "--out",
          str(tmp_path / "ea")])
    capsys.readouterr()
    main(["eval", "--dataset", "spider:dev", "--only-predicted", "--compare",
          str(tmp_path / "ea" / "results.jsonl"), "--compare", str(b), "--json", "--n-boot", "200"])
    assert json.loads(capsys.readouterr().out)["diff"] == pytest.approx(0.2)
    assert main(["eval", "--dataset", "spider:dev", "--compare", str(a)]) != 0


def test_compare_keeps_to_the_dataset_part(capsys, data_root, tmp_path) -> None:
    """Two eval results over all of Spider dev compared with --dataset spider:dev@test: only the
    test part's questions are paired; the steer part's are counted as not in the dataset."""
    from alignsql.cli.main import main
    from alignsql.data import registry
    dev, test = (registry.load(s, data_root) for s in ("spider:dev", "spider:dev@test"))
    in_test = {e.id for e in test.examples}
    gold = [e for e in dev.examples if dev.db_path(e.db_id)][:60]
    both = tmp_path / "b.jsonl"
    both.write_text("\n".join(json.dumps({"id": e.id, "sql": e.sql}) for e in gold))
    main(["eval", "--dataset", "spider:dev", "--only-predicted", "--preds", str(both), "--out",
          str(tmp_path / "e")])
    capsys.readouterr()
    res = str(tmp_path / "e" / "results.jsonl")
    main(["eval", "--dataset", "spider:dev@test", "--compare", res, "--compare", res, "--out",
          str(tmp_path / "cmp"), "--json", "--n-boot", "100"])
    assert json.loads(capsys.readouterr().out)["n"] == sum(e.id in in_test for e in gold) < 60
    full = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert full["not_compared"]["not_in_dataset"] == sum(e.id not in in_test for e in gold) > 0
