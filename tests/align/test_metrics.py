import math

import numpy as np
import pytest

from alignsql.align import metrics


def test_kl_equal_support_by_hand() -> None:
    """P = [1, 1] -> p = [.5, .5]; Q = [1, 3] -> q = [.25, .75]; eps = 0.
    D(P||Q) = .5 ln(.5/.25) + .5 ln(.5/.75) = .5 ln 2 + .5 ln(2/3) = 0.1438410362."""
    assert metrics.kl(np.array([1.0, 1.0]), np.array([1.0, 3.0]), eps=0.0) == pytest.approx(
        0.1438410362, abs=1e-9)


def test_kl_disjoint_support_smoothed_by_hand() -> None:
    """P = [1, 0], Q = [0, 1], eps = 0.1, |U| = 2:
    p' = [(1 + .1) / 1.2, .1 / 1.2] = [11/12, 1/12], q' = [1/12, 11/12].
    D = 11/12 ln 11 + 1/12 ln(1/11) = (10/12) ln 11 = 1.9982456."""
    d = metrics.kl(np.array([1.0, 0.0]), np.array([0.0, 1.0]), eps=0.1)
    assert d == pytest.approx(10 / 12 * math.log(11), abs=1e-9)
    assert d == pytest.approx(1.9982456, abs=1e-6)


def test_kl_ignores_ngrams_outside_the_union() -> None:
    """A third n-gram absent from both must not change D (the support is the union)."""
    a = metrics.kl(np.array([1.0, 0.0]), np.array([0.0, 1.0]), eps=0.1)
    b = metrics.kl(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), eps=0.1)
    assert a == b


def test_self_divergence_is_zero_and_alignment_exactly_one() -> None:
    p = np.array([3.0, 1.0, 0.0, 7.0])
    assert metrics.kl(p, p) == 0.0
    assert metrics.alignment(metrics.kl(p, p), scale=2.0) == 1.0


def test_alignment_by_hand() -> None:
    """A = exp(-D/c): D = c gives 1/e; D = 0.5, c = 2 gives exp(-0.25) = 0.7788007831."""
    assert metrics.alignment(1.9982456, 1.9982456) == pytest.approx(1 / math.e)
    assert metrics.alignment(0.5, 2.0) == pytest.approx(0.7788007831, abs=1e-9)


def test_ovlp_and_jaccard_by_hand() -> None:
    """P = [2, 1, 0], Q = [1, 1, 2] over n-grams (a, b, c).
    OVLP = q(a) + q(b) = 1/4 + 1/4 = 0.5 (c, half the target's mass, is missing from P).
    Jaccard = |{a, b}| / |{a, b, c}| = 2/3."""
    p, q = np.array([2.0, 1.0, 0.0]), np.array([1.0, 1.0, 2.0])
    assert metrics.ovlp(p, q) == pytest.approx(0.5)
    assert metrics.jaccard(p, q) == pytest.approx(2 / 3)


def test_alignment_ratio_by_hand() -> None:
    """AR = A(train) / A(preds): 0.8 / 0.4 = 2 (> 1: SFT predicted to help); 0.3 / 0.6 = 0.5."""
    assert metrics.alignment_ratio(0.8, 0.4) == pytest.approx(2.0)
    assert metrics.alignment_ratio(0.3, 0.6) == pytest.approx(0.5)


def test_kl_terms_sum_to_kl() -> None:
    p, q = np.array([2.0, 1.0, 0.0, 4.0]), np.array([1.0, 0.0, 2.0, 1.0])
    assert metrics.kl_terms(p, q).sum() == pytest.approx(metrics.kl(p, q))
