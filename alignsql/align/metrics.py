"""Alignment metrics over n-gram distributions: pure functions on count vectors.

All take aligned numpy count vectors ``p`` (source: a training set or a model's predictions)
and ``q`` (target) over one shared vocabulary. Formulas follow "Do LLMs Align with My Task?
Evaluating Text-to-SQL via Dataset Alignment" (2025), with the smoothing made explicit.
"""
from __future__ import annotations

import numpy as np

DEFAULT_EPS = 1e-6


def smoothed(counts: np.ndarray, support: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Additive smoothing over a support U (a boolean mask):

        p'(g) = (p(g) + eps) / (1 + eps * |U|)   for g in U,   p(g) = count(g) / sum(count)

    so p' is a distribution over U with no zeros (KL stays finite) that tends to p as eps -> 0.
    """
    total = counts.sum()
    if total <= 0:
        raise ValueError("empty distribution")
    p = counts[support] / total
    return (p + eps) / (1.0 + eps * support.sum())


def kl(p_counts: np.ndarray, q_counts: np.ndarray, eps: float = DEFAULT_EPS) -> float:
    """KL divergence D(P||Q) = sum_{g in U} p'(g) log(p'(g) / q'(g)), U = supp(P) | supp(Q),
    both smoothed by ``smoothed`` over U. Natural log; 0 iff P = Q."""
    return float(kl_terms(p_counts, q_counts, eps).sum())


def kl_terms(p_counts: np.ndarray, q_counts: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Per-n-gram terms p'(g) log(p'(g)/q'(g)) of ``kl`` over the full vocabulary (0 off U)."""
    support = (p_counts > 0) | (q_counts > 0)
    out = np.zeros(len(p_counts))
    p = smoothed(p_counts, support, eps)
    q = smoothed(q_counts, support, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)  # 0 log 0 = 0 when eps = 0
    out[support] = terms
    return out


REFERENCE_KL_SCALE = 6.943245731305963
"""The default c of A = exp(-D / c): the largest D(source || target) over every ordered pair of
the 18 public sets (Spider, BIRD, WikiSQL, the text2sql-data sets, KaggleDBQA, Defog,
Gretel) with max_n 15 and eps 1e-6, measured once by ``python bench/align_bench.py``
(bench/results/align_bench.json, ``kl_scale``). A fixed c makes A comparable across reports;
the paper's per-study c (the largest divergence of the report itself) is ``kl_scale_mode:
report``, under which a report's least aligned pair always scores 1/e."""


def alignment(divergence: float, scale: float) -> float:
    """KL-alignment A = exp(-D / c) in (0, 1]; A = 1 iff D = 0. With c = the largest
    divergence of a report, its least aligned pair scores exactly 1/e."""
    if scale <= 0:
        return 1.0 if divergence == 0 else 0.0
    return float(np.exp(-divergence / scale))


def ovlp(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """OVLP = sum_{g in supp(Q) & supp(P)} q(g): the share of the target's n-gram mass
    whose n-grams the source also has."""
    total = q_counts.sum()
    return float(q_counts[(p_counts > 0)].sum() / total) if total else 0.0


def jaccard(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """|supp(P) & supp(Q)| / |supp(P) | supp(Q)|."""
    a, b = p_counts > 0, q_counts > 0
    union = np.sum(a | b)
    return float(np.sum(a & b) / union) if union else 1.0


def alignment_ratio(a_train: float, a_preds: float) -> float:
    """AR = A(train, target) / A(model's pre-SFT predictions, target), the same scale c for
    both. AR > 1: the training set is closer to the target than the model already is, which
    the paper finds predicts a gain from supervised fine-tuning."""
    if a_preds <= 0:
        return float("inf") if a_train > 0 else float("nan")
    return a_train / a_preds
