"""AR against measured fine-tuning gains: does the Alignment Ratio predict them?

The claim under test ("Do LLMs Align with My Task?", 2025, sec. 5): AR > 1 predicts that
fine-tuning on the training set raises EX on the target, and a larger AR a larger gain. Given
measured gains (EX after - EX before, per training set and target), the report pairs each AR
row with its gain and summarises sign agreement and Spearman's rank correlation."""
from __future__ import annotations

import math
import random
from pathlib import Path

from alignsql.data.io import read_records
from alignsql.errors import AlignSQLError, where


def read_gains(path: str | Path) -> dict[tuple[str, str], dict]:
    """(train, target) -> {"gain", optional "gain_ci"} from JSON/JSONL/CSV records."""
    path = Path(path)
    out: dict[tuple[str, str], dict] = {}
    for pos, rec in enumerate(read_records(path)):
        try:
            gain = float(rec["gain"])
            key = (str(rec["train"]), str(rec["target"]))
        except (KeyError, TypeError, ValueError):
            raise AlignSQLError(f"{where(path, pos)}: a gain record needs train, target and a "
                                f"numeric gain") from None
        if not math.isfinite(gain):
            raise AlignSQLError(f"{where(path, pos)}: gain must be a finite number")
        out[key] = {"gain": gain, "gain_ci": rec.get("gain_ci")}
    return out


def ar_vs_gain(ar_rows: list[dict], gains: dict[tuple[str, str], dict]) -> list[dict]:
    """AR rows that have a measured gain, with it."""
    return [{"train": r["train"], "target": r["target"], "ar": r["ar"], **gains[key]}
            for r in ar_rows if r["ar"] is not None
            and (key := (r["train"], r["target"])) in gains]


def sign_agreement(rows: list[dict]) -> float | None:
    """Share of rows where sign(AR - 1) equals sign(gain); a zero gain agrees with AR <= 1."""
    if not rows:
        return None
    return sum((r["ar"] > 1) == (r["gain"] > 0) for r in rows) / len(rows)


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rho: Pearson correlation of the average ranks (ties share their mean rank);
    None for fewer than 3 points or a constant side."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else None


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def rank_correlation(rows: list[dict], key: str = "ar") -> float | None:
    """Spearman's rho between a predictor (``key``: AR, OVLP, ...) and the gain."""
    return spearman([r[key] for r in rows], [r["gain"] for r in rows])


def pair_bootstrap(rows: list[dict], statistic, n_boot: int = 2000,
                   seed: int = 0) -> list[float] | None:
    """Percentile 95% interval of ``statistic(rows)`` over the pairs resampled with
    replacement (Efron & Tibshirani 1993, ch. 13): how far the summary could move with other
    pairs of the same kind. Resamples where the statistic is undefined (a constant side) are
    left out; None when fewer than 3 pairs or no resample is defined."""
    if len(rows) < 3:
        return None
    rng = random.Random(seed)
    values = []
    for _ in range(n_boot):
        value = statistic([rows[rng.randrange(len(rows))] for _ in rows])
        if value is not None:
            values.append(value)
    if not values:
        return None
    values.sort()
    return [values[int(0.025 * (len(values) - 1))], values[int(0.975 * (len(values) - 1))]]


def summary(rows: list[dict], n_boot: int = 2000, seed: int = 0) -> dict:
    return {"n_pairs": len(rows), "sign_agreement": sign_agreement(rows),
            "sign_agreement_ci": pair_bootstrap(rows, sign_agreement, n_boot, seed),
            "spearman": rank_correlation(rows),
            "spearman_ci": pair_bootstrap(rows, rank_correlation, n_boot, seed)}
