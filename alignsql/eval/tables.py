"""Table-selection metrics for schema linking, as LR-SQL's table reports them: exact match of
the table set, the rate at which every gold table was found, precision and recall (means over
questions; a question with no predicted table has precision 0)."""
from __future__ import annotations

from typing import Sequence


def question_scores(gold: set[str], pred: set[str]) -> dict[str, float]:
    """One question's table scores; names compared case-insensitively.

    exact = 1[P = G]; all_found = 1[G <= P]; precision = |P & G| / |P| (0 when P is empty);
    recall = |P & G| / |G| (1 when G is empty)."""
    g, p = {t.lower() for t in gold}, {t.lower() for t in pred}
    hit = len(g & p)
    return {"exact": float(p == g), "all_found": float(g <= p),
            "precision": hit / len(p) if p else 0.0, "recall": hit / len(g) if g else 1.0}


def table_metrics(gold: Sequence[set[str]], pred: Sequence[set[str]]) -> dict[str, float]:
    """Means of question_scores over the questions, and their number."""
    if not gold:
        return {"exact": 0.0, "all_found": 0.0, "precision": 0.0, "recall": 0.0, "n": 0}
    scores = [question_scores(g, p) for g, p in zip(gold, pred)]
    n = len(scores)
    return {**{k: sum(s[k] for s in scores) / n for k in scores[0]}, "n": n}
