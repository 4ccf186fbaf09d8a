import json

import pytest

from alignsql.align.gains import (
    ar_vs_gain,
    pair_bootstrap,
    read_gains,
    sign_agreement,
    spearman,
    summary,
)
from alignsql.errors import AlignSQLError


def test_spearman_by_hand() -> None:
    """xs 1,2,3,4 and ys 10,30,20,40: ranks 1,2,3,4 and 1,3,2,4; d = 0,1,1,0, sum d^2 = 2;
    rho = 1 - 6*2 / (4*15) = 0.8. Ties share their mean rank: ys 1,1,2 rank 1.5,1.5,3."""
    assert spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [1, 1, 2]) == pytest.approx(0.8660254, rel=1e-6)
    assert spearman([1, 2], [2, 1]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def test_sign_agreement_by_hand() -> None:
    """AR 1.2 / gain +0.01 agrees; AR 0.9 / gain -0.02 agrees; AR 1.1 / gain 0 disagrees
    (no gain is not a help): 2 of 3."""
    rows = [{"ar": 1.2, "gain": 0.01}, {"ar": 0.9, "gain": -0.02}, {"ar": 1.1, "gain": 0.0}]
    assert sign_agreement(rows) == pytest.approx(2 / 3)


def test_pair_bootstrap_by_hand() -> None:
    """AR and gain both increasing over 5 pairs: any resample ranks them alike wherever both
    sides vary (rho = 1; duplicated pairs tie on both sides alike), and every pair agrees in
    sign, so both intervals are [1, 1]. Mixed pairs give an interval that holds the point
    value. Fewer than 3 pairs: no interval."""
    rows = [{"ar": a, "gain": g} for a, g in [(0.5, -0.1), (0.8, -0.05), (1.2, 0.01),
                                               (1.5, 0.04), (2.0, 0.09)]]
    out = summary(rows, n_boot=300)
    assert out["spearman"] == 1.0 and out["spearman_ci"] == [1.0, 1.0]
    assert out["sign_agreement_ci"] == [1.0, 1.0]
    mixed = rows + [{"ar": 1.3, "gain": -0.2}, {"ar": 0.7, "gain": 0.3}]
    lo, hi = pair_bootstrap(mixed, sign_agreement, n_boot=500)
    assert lo <= sign_agreement(mixed) == 5 / 7 <= hi and lo < hi
    assert pair_bootstrap(rows[:2], sign_agreement) is None


def test_gains_file_joins_ar_rows(tmp_path) -> None:
    f = tmp_path / "g.jsonl"
    f.write_text(json.dumps({"train": "a", "target": "t", "gain": 0.05}) + "\n"
                 + json.dumps({"train": "b", "target": "t", "gain": -0.01}) + "\n")
    ar = [{"train": "a", "target": "t", "ar": 1.3}, {"train": "b", "target": "t", "ar": 0.8},
          {"train": "c", "target": "t", "ar": 1.1}]
    rows = ar_vs_gain(ar, read_gains(f))
    assert [(r["train"], r["gain"]) for r in rows] == [("a", 0.05), ("b", -0.01)]
    assert summary(rows)["sign_agreement"] == 1.0
    f.write_text(json.dumps({"train": "a", "gain": "x"}) + "\n")
    with pytest.raises(AlignSQLError, match="g.jsonl, record 0"):
        read_gains(f)


def test_report_plots_ar_against_gain() -> None:
    from alignsql.align.render import html, markdown
    rows = [{"train": "a<b", "target": "t", "ar": 1.3, "gain": 0.05},
            {"train": "b", "target": "t", "ar": 0.8, "gain": -0.01}]
    report = {"pairs": [], "ar": [], "kl_scale": 1.0, "kl_scale_source": "given",
              "ar_vs_gain": {"rows": rows, **summary(rows)}}
    page = html(report)
    assert page.count("<circle") == 2 and "a&lt;b" in page
    assert "agrees with the sign of the gain on 1.00" in markdown(report)
