"""A shared n-gram vocabulary, and count vectors of profiles (or of subsets of them) over it."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
from scipy import sparse

from alignsql.align.ngrams import DEFAULT_MAX_N, template_ngrams
from alignsql.align.profile import Profile


class NgramSpace:
    """Register every profile first (``add``), then ask for vectors (``counts``).

    Each distinct template becomes a sparse row of n-gram counts, so a dataset's distribution
    is one sparse product (template counts x rows), and so is any sample of it (bootstrap).
    """

    def __init__(self, max_n: int = DEFAULT_MAX_N) -> None:
        self.max_n = max_n
        self.vocab: dict[str, int] = {}
        self._rows: dict[int, tuple[list, list, list]] = {}
        self._alive: list[list] = []  # keeps keyed template lists alive so ids are not reused
        self._matrices: dict[int, sparse.csr_matrix] = {}

    def add(self, profile: Profile) -> None:
        key = id(profile.templates)
        if key in self._rows:
            return
        data, cols, indptr = [], [], [0]
        for tokens in profile.templates:
            grams = Counter(template_ngrams(tokens, self.max_n))
            for gram, c in grams.items():
                cols.append(self.vocab.setdefault(gram, len(self.vocab)))
                data.append(c)
            indptr.append(len(cols))
        self._rows[key] = (data, cols, indptr)
        self._alive.append(profile.templates)

    def matrix(self, profile: Profile) -> sparse.csr_matrix:
        key = id(profile.templates)
        mat = self._matrices.get(key)
        if mat is None or mat.shape[1] != len(self.vocab):
            data, cols, indptr = self._rows[key]
            mat = sparse.csr_matrix((np.asarray(data, dtype=np.float64), cols, indptr),
                                    shape=(len(profile.templates), len(self.vocab)))
            self._matrices[key] = mat
        return mat

    def counts(self, profile: Profile, rows: Sequence[int] | None = None) -> np.ndarray:
        """n-gram counts of the profile's examples (or of the examples at ``rows``)."""
        weights = np.bincount(np.asarray(profile.index if rows is None
                                         else [profile.index[r] for r in rows], dtype=np.int64),
                              minlength=len(profile.templates)).astype(np.float64)
        return np.asarray(weights @ self.matrix(profile)).ravel()

    def names(self) -> list[str]:
        out = [""] * len(self.vocab)
        for gram, i in self.vocab.items():
            out[i] = gram
        return out
