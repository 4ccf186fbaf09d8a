"""Paired significance for two systems scored on the same questions (pure functions).

Each question gives a pair (a_i, b_i) of 0/1 outcomes (correct by execution); the bootstrap
also takes per-question scores in [0, 1] (a table-recall, say).

- Exact McNemar test (McNemar 1947; the exact binomial form, e.g. Edwards 1948): only the
  discordant questions carry information. With b = #(a right, b wrong) and c = #(a wrong,
  b right), under H0 (equal accuracy) each of the n = b + c discordant questions falls either
  way with probability 1/2, so
      p = min(1, 2 * P(X <= min(b, c))),  X ~ Binomial(n, 1/2);  p = 1 when n = 0.
- Paired bootstrap (Efron & Tibshirani 1993; Koehn 2004 for NLP system comparison): resample
  questions with replacement, keeping each question's pair together, and take the 2.5 and 97.5
  percentiles of the resampled EX(b) - EX(a).
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_bootstrap(a: Sequence[int], b: Sequence[int], n_boot: int = 10_000,
                     seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of mean(b) - mean(a) over ``n_boot`` resamples of the questions."""
    if len(a) != len(b) or not a:
        raise ValueError("need two equally long, non-empty outcome lists")
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    import numpy as np
    diffs = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = len(diffs)
    rng = np.random.default_rng(seed)
    stats = np.concatenate([diffs[rng.integers(0, n, (min(1000, n_boot - i), n))].mean(1)
                            for i in range(0, n_boot, 1000)])
    stats.sort()
    lo = stats[int(math.floor((1 - level) / 2 * (n_boot - 1)))]
    hi = stats[int(math.ceil((1 + level) / 2 * (n_boot - 1)))]
    return float(lo), float(hi)


def paired_comparison(a: Sequence[int], b: Sequence[int], n_boot: int = 10_000,
                      seed: int = 0) -> dict:
    """EX of each, the difference b - a, its paired bootstrap 95% interval, the discordant
    counts and the exact McNemar p-value."""
    lost = sum(1 for x, y in zip(a, b) if x and not y)
    gained = sum(1 for x, y in zip(a, b) if y and not x)
    n = len(a)
    ex_a, ex_b = sum(map(int, a)) / n, sum(map(int, b)) / n
    lo, hi = paired_bootstrap(a, b, n_boot, seed)
    return {"n": n, "ex_a": ex_a, "ex_b": ex_b, "diff": ex_b - ex_a, "ci": [lo, hi],
            "a_only": lost, "b_only": gained, "p_value": mcnemar_exact(lost, gained),
            "n_boot": n_boot}


def mean_interval(values: Sequence[float], n_boot: int = 10_000, seed: int = 0
                  ) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of one system's mean per-question score (the paired
    interval against a system that scores 0 everywhere)."""
    return paired_bootstrap([0] * len(values), values, n_boot, seed)
