"""Table-selection metrics for schema linking, as LR-SQL's table reports them: exact match of
the table set, the rate at which every gold table was found, precision and recall (means over
questions; a question with no predicted table has precision 0)."""
from __future__ import annotations

from typing import Sequence


def table_metrics(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> dict[str, float]:
    """Per-question means; names compared case-insensitively.

    exact = mean 1[P = G]; all_found = mean 1[G <= P];
    precision = mean |P & G| / |P| (0 when P is empty); recall = mean |P & G| / |G|."""
    if not gold:
        return {"exact": 0.0, "all_found": 0.0, "precision": 0.0, "recall": 0.0, "n": 0}
    ex = found = prec = rec = 0.0
    for g, p in zip(gold, pred):
        g = {t.lower() for t in g}
        p = {t.lower() for t in p}
        hit = len(g & p)
        ex += p == g
        found += g <= p
        prec += hit / len(p) if p else 0.0
        rec += hit / len(g) if g else 1.0
    n = len(gold)
    return {"exact": ex / n, "all_found": found / n, "precision": prec / n, "recall": rec / n,
            "n": n}
