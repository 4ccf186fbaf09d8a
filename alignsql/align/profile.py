"""Template profiles: every example of a dataset mapped to its structural template.

Templating is the expensive step, so it is done once per distinct query shape (queries that
differ only in literals or qualified names share a template, see ``sql.template.cache_key``),
spread over worker processes, and cached on disk under ``$ALIGNSQL_HOME/cache/profiles``
keyed by the content hash of the dataset's files (and the code and sqlglot versions).
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import pickle
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import sqlglot
from sqlglot.errors import TokenError

from alignsql.data.example import Example
from alignsql.paths import home
from alignsql.sql.template import Template, cache_key, template_from_tokens, tokenize

PROFILE_VERSION = "1"  # bump when templating semantics change, so caches are not reused
PARALLEL_MIN = 4000  # below this a worker pool costs more than it saves


@dataclass
class Profile:
    """A dataset's templates: ``templates[index[i]]`` is example i's template."""

    name: str
    templates: list[tuple[str, ...]]
    index: list[int]
    unparsed: list[bool]
    """Per distinct template: True when it came from the tokenizer fallback."""
    ids: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.index)

    @cached_property
    def n_unparsed(self) -> int:
        return int(np.asarray(self.unparsed, dtype=bool)[np.asarray(self.index, dtype=np.int64)].sum()) \
            if self.index else 0

    def counts(self, rows: Iterable[int] | None = None) -> Counter:
        """Template-id counts over all examples, or over the given example positions."""
        idx = self.index if rows is None else [self.index[r] for r in rows]
        return Counter(idx)

    def template(self, i: int) -> tuple[str, ...]:
        return self.templates[self.index[i]]

    def subset(self, rows: Sequence[int], name: str | None = None) -> "Profile":
        return Profile(name or self.name, self.templates, [self.index[r] for r in rows],
                       self.unparsed, [self.ids[r] for r in rows] if self.ids else [])


def _template_chunk(items: list[tuple[str, str]]) -> tuple[list[Template], list[int]]:
    """Worker: templates of distinct shapes in ``items`` and each item's position among them."""
    seen: dict[str, int] = {}
    out: list[Template] = []
    index: list[int] = []
    for sql, dialect in items:
        try:
            tokens = tokenize(sql, dialect)
        except TokenError:
            index.append(len(out))
            out.append(Template((), parsed=False))
            continue
        key = dialect + "\x1e" + cache_key(tokens)
        pos = seen.get(key)
        if pos is None:
            pos = seen[key] = len(out)
            out.append(template_from_tokens(sql, tokens, dialect))
        index.append(pos)
    return out, index


def template_items(items: list[tuple[str, str]], workers: int = 2,
                   progress: bool = False) -> tuple[list[tuple[str, ...]], list[int], list[bool]]:
    """Template (sql, dialect) pairs; returns distinct templates, per-item index, unparsed flags."""
    if workers <= 1 or len(items) < PARALLEL_MIN:
        results = [_template_chunk(items)]
    else:
        size = max(1000, len(items) // (workers * 4))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            results = list(_progress(pool.map(_template_chunk, chunks), len(chunks), progress))
    uniq: dict[Template, int] = {}
    index: list[int] = []
    for chunk_templates, chunk_index in results:
        ids = [uniq.setdefault(t, len(uniq)) for t in chunk_templates]
        index.extend(ids[i] for i in chunk_index)
    # A shape that failed to parse in one chunk and parsed in none keeps parsed=False.
    templates = [t.tokens for t in uniq]
    return templates, index, [not t.parsed for t in uniq]


def _progress(it, total: int, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm
    return tqdm(it, total=total, desc="templating", unit="chunk", leave=False)


def profile_examples(name: str, examples: Sequence[Example], workers: int = 2,
                     progress: bool = False) -> Profile:
    items = [(e.sql, e.dialect) for e in examples]
    templates, index, unparsed = template_items(items, workers, progress)
    return Profile(name, templates, index, unparsed, [e.id for e in examples])


def content_key(files: Sequence[Path], *extra: object) -> str:
    """Hash of the files' bytes plus code/sqlglot versions and any extra parameters."""
    h = hashlib.sha1(f"{PROFILE_VERSION}|{sqlglot.__version__}|{extra!r}".encode())
    for f in files:
        h.update(str(f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:20]


def cache_path(key: str) -> Path:
    path = home() / "cache" / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{key}.pkl"


def load_cached(key: str) -> Profile | None:
    path = cache_path(key)
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (pickle.UnpicklingError, EOFError, AttributeError):
        path.unlink(missing_ok=True)  # a torn write from a killed run: recompute
        return None


def store_cached(key: str, profile: Profile) -> None:
    path = cache_path(key)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(profile, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
