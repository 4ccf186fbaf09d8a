"""The template pool: typed templates from a source dataset, and how to sample them.

Modes: ``frequency`` (as often as the source uses them), ``uniform`` (every distinct template
alike, for coverage) and ``steered`` (toward a target sample: each target template's share goes
to the source template most similar to it, by the n-gram Jaccard x precision^2 score that
`alignsql select` uses, so the synthetic set's structure tracks the target's)."""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from alignsql.align.profile import Profile
from alignsql.align.selection import jaccard_matrix, precision
from alignsql.align.space import NgramSpace
from alignsql.data.example import Dataset
from alignsql.synth.templates import TypedTemplate, extract


@dataclass
class TemplatePool:
    templates: list[TypedTemplate]
    """One representative per distinct key."""
    counts: list[int]
    skipped: Counter = field(default_factory=Counter)

    def profile(self) -> Profile:
        """The pool as an alignment profile (one entry per distinct template)."""
        structures = list(dict.fromkeys(t.structural for t in self.templates))
        where = {s: i for i, s in enumerate(structures)}
        return Profile("pool", structures, [where[t.structural] for t in self.templates],
                       [False] * len(structures))


def build_pool(ds: Dataset, limit: int | None = None) -> TemplatePool:
    """Typed templates of a dataset's queries (those whose schema is known)."""
    reps: dict[str, TypedTemplate] = {}
    counts: Counter = Counter()
    skipped: Counter = Counter()
    for ex in ds.examples[:limit]:
        schema = ds.schemas.get(ex.db_id)
        tt = extract(ex.sql, schema, ex.dialect) if schema else None
        if tt is None:
            skipped["no schema" if schema is None else "unparsable or outside its schema"] += 1
            continue
        reps.setdefault(tt.key, tt)
        counts[tt.key] += 1
    keys = list(reps)
    return TemplatePool([reps[k] for k in keys], [counts[k] for k in keys], skipped)


def weights(pool: TemplatePool, mode: str, target: Profile | None = None,
            failures: Counter | None = None, boost: float = 2.0) -> np.ndarray:
    """Sampling weights per pool template; templates that failed validation last round get
    ``boost`` times their weight per failure (SPFT-SQL's feedback into the next round)."""
    if mode == "frequency":
        w = np.asarray(pool.counts, dtype=float)
    elif mode == "uniform":
        w = np.ones(len(pool.templates))
    elif mode == "steered":
        if target is None:
            raise ValueError("steered sampling needs a target profile")
        w = _steered(pool, target)
    else:
        raise ValueError(f"unknown sampling mode {mode!r}")
    if failures:
        for i, t in enumerate(pool.templates):
            w[i] *= boost ** failures.get(t.key, 0)
    return w / w.sum() if w.sum() > 0 else np.ones(len(w)) / len(w)


def _steered(pool: TemplatePool, target: Profile) -> np.ndarray:
    source = pool.profile()
    space = NgramSpace()
    space.add(source)
    space.add(target)
    sim = jaccard_matrix(space.matrix(target), space.matrix(source))
    sim = (sim @ _diag(precision(space.matrix(source), space.counts(target) > 0) ** 2)).tocsr()
    per_structure = np.zeros(len(source.templates))
    for t_id, count in target.counts().items():
        row = sim.getrow(t_id)
        if row.nnz:
            per_structure[row.indices[np.argmax(row.data)]] += count
    members: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(source.index):
        members[s].append(i)
    w = np.zeros(len(pool.templates))
    for s, share in enumerate(per_structure):
        for i in members[s]:  # split a structure's share by its typed variants' frequency
            w[i] = share * pool.counts[i] / sum(pool.counts[j] for j in members[s])
    return w


def _diag(v: np.ndarray):
    from scipy import sparse
    return sparse.diags(v)


def sample(pool: TemplatePool, w: np.ndarray, n: int, rng: random.Random) -> Sequence[int]:
    return rng.choices(range(len(pool.templates)), weights=w.tolist(), k=n)
