"""Data selection: pick k pool examples whose templates match a target sample's.

Each distinct target template t gets a quota k * c_t / n (its share of the target). The quota
is filled from the pool examples of the pool template nearest to t (Jaccard similarity of
their n-gram sets, so an exact template match is nearest), then the next nearest,
until it is met. This is importance weighting by template with a nearest-neighbour fallback
for target shapes the pool lacks; ties and order are broken by a seeded shuffle.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from alignsql import config
from alignsql.align import metrics
from alignsql.align.profile import Profile, profile_examples
from alignsql.align.run import profile_spec, sample
from alignsql.align.space import NgramSpace
from alignsql.data import registry
from alignsql.data.example import Example
from alignsql.data.overlap import exclusion_keys, shared
from alignsql.data.splits import record_steering
from alignsql.errors import AlignSQLError

CANDIDATES = 50  # nearest pool templates considered per target template


def jaccard_matrix(a: sparse.csr_matrix, b: sparse.csr_matrix) -> sparse.csr_matrix:
    """Jaccard similarity of the n-gram sets of every row of ``a`` with every row of ``b``:
    |A & B| / (|A| + |B| - |A & B|). Unlike cosine it penalises the extra n-grams of a long
    pool template, which KL(subset || target) would pay for."""
    a, b = (a > 0).astype(np.float64), (b > 0).astype(np.float64)
    inter = (a @ b.T).tocoo()
    size_a = np.asarray(a.sum(axis=1)).ravel()
    size_b = np.asarray(b.sum(axis=1)).ravel()
    data = inter.data / (size_a[inter.row] + size_b[inter.col] - inter.data)
    return sparse.csr_matrix((data, (inter.row, inter.col)), shape=inter.shape)


def precision(mat: sparse.csr_matrix, support: np.ndarray) -> np.ndarray:
    """Per row: the share of its distinct n-grams that lie in ``support``."""
    binary = (mat > 0).astype(np.float64)
    inside = np.asarray(binary @ support.astype(np.float64)).ravel()
    total = np.asarray(binary.sum(axis=1)).ravel()
    total[total == 0] = 1.0
    return inside / total


def _quotas(target: Profile, k: int) -> dict[int, int]:
    """Largest-remainder apportionment of k over the target's templates."""
    counts = target.counts()
    raw = {t: k * c / target.n for t, c in counts.items()}
    quotas = {t: int(v) for t, v in raw.items()}
    rest = k - sum(quotas.values())
    for t, _ in sorted(raw.items(), key=lambda kv: kv[1] - int(kv[1]), reverse=True)[:rest]:
        quotas[t] += 1
    return quotas


def select(pool: Profile, target: Profile, k: int, space: NgramSpace, seed: int = 0) -> list[int]:
    """Positions (in ``pool``) of the selected examples, at most k, without repeats."""
    space.add(pool)
    space.add(target)
    k = min(k, pool.n)
    sim = jaccard_matrix(space.matrix(target), space.matrix(pool))
    # KL(subset || target) pays heavily for n-grams the target never uses, so a candidate is
    # discounted by its precision: the share of its n-grams that occur in the target.
    prec = precision(space.matrix(pool), space.counts(target) > 0)
    sim = (sim @ sparse.diags(prec ** 2)).tocsr()
    rng = random.Random(seed)
    by_template: dict[int, list[int]] = defaultdict(list)
    for row, t in enumerate(pool.index):
        by_template[t].append(row)
    for rows in by_template.values():
        rng.shuffle(rows)
    chosen: list[int] = []
    quotas = sorted(_quotas(target, k).items(), key=lambda kv: -kv[1])
    for t_id, quota in quotas:
        row = sim.getrow(t_id)
        order = row.indices[np.argsort(-row.data)][:CANDIDATES]
        for p_id in order:
            while quota and by_template[p_id]:
                chosen.append(by_template[p_id].pop())
                quota -= 1
            if not quota:
                break
    if len(chosen) < k:  # target shapes with no similar pool shape: fill at random
        left = [r for rows in by_template.values() for r in rows]
        rng.shuffle(left)
        chosen.extend(left[:k - len(chosen)])
    return chosen[:k]


@dataclass
class SelectConfig:
    pool: list[str] = field(default_factory=list)
    """Dataset specs to select from; repeat for several pools."""
    target: str = ""
    """The target workload spec to align with."""
    k: int = 1000
    """How many examples to select."""
    out: str = "subset.jsonl"
    """Where to write the selected examples (JSONL, loadable as file:PATH)."""
    target_sample: int | None = None
    """Align with a seeded sample of this many target queries (what a user usually has)."""
    max_n: int = 15
    """Longest template n-gram."""
    seed: int = 0
    """Seed for sampling and tie-breaking."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""
    workers: int = 2
    """Processes for templating."""
    exclude: list[str] = field(default_factory=list)
    """Dataset specs you evaluate on: pool examples whose question appears in one of them, or
    in the target, are never selected (alignsql.data.overlap; counted as n_excluded)."""

    def __post_init__(self) -> None:
        config.at_least(self, k=1, target_sample=1, max_n=1, workers=1)


def _alignment_of(rows: list[int], pool: Profile, target: Profile, space: NgramSpace,
                  scale: float) -> tuple[float, float]:
    d = metrics.kl(space.counts(pool, rows), space.counts(target))
    return d, metrics.alignment(d, scale)


def run_select(cfg: SelectConfig, progress: bool = False) -> dict:
    """Select, write the JSONL subset and its config, return the before/after alignment."""
    if not cfg.pool or not cfg.target:
        raise AlignSQLError("give at least one --pool and a --target")
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails before the work
    examples: list[Example] = []
    for spec in cfg.pool:
        ds = registry.load(spec, cfg.data_root)
        examples.extend(ds.examples)
    leaked = set(shared(examples, exclusion_keys([*cfg.exclude, cfg.target], cfg.data_root)))
    examples = [e for i, e in enumerate(examples) if i not in leaked]
    if not examples:
        raise AlignSQLError(f"select: all {len(leaked)} pool examples have a question of the "
                            f"target or an --exclude set; nothing left to select from")
    pool = profile_examples("pool", examples, cfg.workers, progress)
    target = sample(profile_spec(cfg.target, cfg.data_root, cfg.workers, progress=progress),
                    cfg.target_sample, cfg.seed)
    space = NgramSpace(cfg.max_n)
    rows = select(pool, target, cfg.k, space, cfg.seed)
    random_rows = random.Random(cfg.seed).sample(range(pool.n), len(rows))
    # c = the divergence of the whole pool, so the unselected pool scores 1/e.
    scale = metrics.kl(space.counts(pool), space.counts(target))
    kl_sel, a_sel = _alignment_of(rows, pool, target, space, scale)
    kl_rand, a_rand = _alignment_of(random_rows, pool, target, space, scale)
    with open(out, "w") as fh:
        for r in rows:
            fh.write(json.dumps(asdict(examples[r])) + "\n")
    config.save(cfg, out.with_suffix(".config.yaml"))
    record_steering(out, [cfg.target])  # training on it then refuses to evaluate on the target
    return {"out": str(out), "n_selected": len(rows), "n_pool": pool.n, "n_excluded": len(leaked),
            "target": cfg.target,
            "kl_selected": kl_sel, "a_selected": a_sel, "kl_random": kl_rand, "a_random": a_rand,
            "kl_scale": scale}
