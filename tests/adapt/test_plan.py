"""The adapt planner's arithmetic (alignsql.adapt.plan)."""
import pytest

from alignsql.adapt.plan import fit_select, make_plan


def test_make_plan_splits_the_budget() -> None:
    """60 min, 1 answer/s, 2 examples/s, 100 test questions: evaluation 2 x 100 / 1 s = 200 s
    = 3.33 min; rest 56.67 min; synthesis floor(56.67 x 0.35 x 60 x 1 / 2) = 595 queries,
    2 x 595 s = 19.83 min; training floor((60 - 3.33 - 19.83) x 60 x 2 - 595 x 0.3) =
    floor(4420 - 178.5) = 4241 examples."""
    p = make_plan(60, 1.0, 2.0, 100.0, 100)
    assert p.eval_min == pytest.approx(10 / 3) and p.n_synth == 595
    assert p.synth_min == pytest.approx(595 * 2 / 60) and p.n_select == 4241
    assert make_plan(60, 1.0, 2.0, 100.0, 100, n_select=7, n_synth=9).n_select == 7


def test_fit_select_rescales_to_the_budget() -> None:
    """Tokens = 100 per example + 1,000 fixed (the synthetic pairs); budget 21,000 tokens.
    Start at k = 50: 6,000 tokens, rescale to floor(50 x 21000 / 6000) = 175: 18,500 tokens,
    below the budget by more than 10%, rescale to floor(175 x 21000 / 18500) = 198: 20,800,
    within 10% below: kept."""
    calls = []

    def tokens(k: int) -> int:
        calls.append(k)
        return 100 * k + 1000
    k, tried = fit_select(50, tokens, 21_000, k_min=16, k_max=10_000)
    assert tried == [(50, 6000), (175, 18500), (198, 20800)] and k == 198 and calls == [50, 175, 198]


def test_fit_select_never_overshoots_and_respects_bounds() -> None:
    """Budget 5,000, tokens 100 k + 1,000. From k = 100 (11,000 tokens, over) to
    floor(100 x 5000 / 11000) = 45 (5,500: still over) to floor(45 x 5000 / 5500) = 40
    (5,000: fits exactly). The pool caps k: with k_max = 30, 30 is tried and kept (4,000 fits).
    A budget nothing fits gives the smallest tried k, at least k_min."""
    k, tried = fit_select(100, lambda k: 100 * k + 1000, 5000, 16, 10_000)
    assert [t[0] for t in tried] == [100, 45, 40] and k == 40
    k, tried = fit_select(100, lambda k: 100 * k + 1000, 5000, 16, 30)
    assert tried == [(30, 4000)] and k == 30
    k, tried = fit_select(100, lambda k: 100 * k + 1000, 500, 16, 10_000)
    assert k == 16 and tried[-1][0] == 16
