"""The alignment report: KL, KL-alignment, OVLP, Jaccard for every (source, target) pair,
the Alignment Ratio for every (train, target, predictions) triple, bootstrap intervals and
the n-grams that explain a divergence. Returns plain data; rendering is in ``render``."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from alignsql.align import metrics
from alignsql.align.profile import Profile
from alignsql.align.space import NgramSpace


@dataclass
class CompareOptions:
    max_n: int = 15
    eps: float = metrics.DEFAULT_EPS
    kl_scale: float | None = None
    """A given c; None: by ``kl_scale_mode``."""
    kl_scale_mode: str = "reference"
    """reference (metrics.REFERENCE_KL_SCALE, comparable across reports) or report (the
    largest divergence of this report, the paper's normalisation)."""
    direction: str = "source-target"
    """``source-target`` computes D(source||target); ``target-source`` D(target||source)."""
    bootstrap_sizes: list[int] = field(default_factory=lambda: [50, 100, 200, 0])
    """Target sample sizes k for bootstrap intervals of A (0 = the whole target)."""
    n_boot: int = 100
    seed: int = 0
    top: int = 10


def _divergence(p: np.ndarray, q: np.ndarray, opts: CompareOptions) -> float:
    if opts.direction == "source-target":
        return metrics.kl(p, q, opts.eps)
    return metrics.kl(q, p, opts.eps)


def pair_rows(sources: dict[str, Profile], targets: dict[str, Profile],
              vectors: dict[str, np.ndarray], opts: CompareOptions) -> list[dict]:
    # Every metric only looks at the union of the two supports, so each pair is computed on
    # that union (a few thousand n-grams) instead of the whole vocabulary (~10^5-10^6).
    nonzero = {name: vec > 0 for name, vec in vectors.items()}
    rows = []
    for s_name, s_prof in sources.items():
        for t_name, t_prof in targets.items():
            union = np.flatnonzero(nonzero[s_name] | nonzero[t_name])
            p, q = vectors[s_name][union], vectors[t_name][union]
            rows.append({"source": s_name, "target": t_name, "kl": _divergence(p, q, opts),
                         "ovlp": metrics.ovlp(p, q), "jaccard": metrics.jaccard(p, q),
                         "n_source": s_prof.n, "n_target": t_prof.n,
                         "unparsed_source": s_prof.n_unparsed,
                         "unparsed_target": t_prof.n_unparsed})
    return rows


def explain(p: np.ndarray, q: np.ndarray, names: list[str], top: int, eps: float) -> dict:
    """The n-grams behind D: what the target has that the source lacks (largest terms of
    D(target||source)) and what the source has that the target lacks (of D(source||target))."""
    def ranked(a: np.ndarray, b: np.ndarray) -> list[dict]:
        terms = metrics.kl_terms(a, b, eps)
        order = np.argsort(-terms)[:top]
        return [{"ngram": names[i], "term": float(terms[i]),
                 "freq_target": float(q[i] / q.sum()), "freq_source": float(p[i] / p.sum())}
                for i in order if terms[i] > 0]
    return {"target_lacks_in_source": ranked(q, p), "source_extra": ranked(p, q)}


def bootstrap(s_vec: np.ndarray, t_prof: Profile, space: NgramSpace, scale: float,
              opts: CompareOptions) -> list[dict]:
    """For each k in ``bootstrap_sizes``: the spread of A measured on a k-query sample of the
    target (what a user holding only k queries would see: percentiles of resampled A, a
    different statistic from the table's A when k < n, and biased low, since a small sample's
    plug-in KL is inflated). For k = n (``all``) also ``ci``: a 95% interval of the table's A
    itself, bias-corrected (Efron & Tibshirani 1993, sec. 10.6: bootstrap values shifted by
    the estimated bias mean(A*) - A, then percentiles), clipped to [0, 1]."""
    rng = np.random.default_rng(opts.seed)
    full = metrics.alignment(_divergence(s_vec, space.counts(t_prof), opts), scale)
    out = []
    for k in opts.bootstrap_sizes:
        k_eff = t_prof.n if k <= 0 or k > t_prof.n else k
        values = np.array([metrics.alignment(_divergence(
            s_vec, space.counts(t_prof, rng.integers(0, t_prof.n, size=k_eff)), opts), scale)
            for _ in range(opts.n_boot)])
        lo, mid, hi = np.percentile(values, [2.5, 50, 97.5])
        row = {"k": k_eff, "all": k <= 0 or k >= t_prof.n, "median": float(mid),
               "lo": float(lo), "hi": float(hi)}
        if row["all"]:
            row["a"] = full
            row["ci"] = bias_corrected_interval(values, full)
        out.append(row)
    return out


def bias_corrected_interval(values: np.ndarray, estimate: float,
                            level: float = 0.95) -> list[float]:
    """Percentile interval of bootstrap values shifted by their bias, mean - estimate,
    clipped to [0, 1] (Efron & Tibshirani 1993, sec. 10.6)."""
    shifted = values - (values.mean() - estimate)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(shifted, [tail, 100 - tail])
    return [float(max(0.0, lo)), float(min(1.0, hi))]


def kl_scale(pairs: list[dict], opts: CompareOptions) -> tuple[float, str]:
    """c of A = exp(-D / c) and where it came from (recorded in the report)."""
    if opts.kl_scale:
        return opts.kl_scale, "given"
    if opts.kl_scale_mode == "report":
        return max((r["kl"] for r in pairs), default=0.0), "report (largest divergence here)"
    return metrics.REFERENCE_KL_SCALE, "reference (public benchmark matrix, align_bench.json)"


def compare(trains: dict[str, Profile], targets: dict[str, Profile],
            preds: dict[str, Profile] | None = None, opts: CompareOptions | None = None,
            with_bootstrap: bool = True, with_explain: bool = True) -> dict:
    """The full report as a JSON-ready dict (the CLI's ``--json`` contract)."""
    opts = opts or CompareOptions()
    preds = preds or {}
    sources = {**trains, **preds}
    space = NgramSpace(opts.max_n)
    for prof in [*sources.values(), *targets.values()]:
        space.add(prof)
    vectors = {name: space.counts(prof) for name, prof in {**sources, **targets}.items()}
    for name, vec in vectors.items():
        if vec.sum() <= 0:
            raise ValueError(f"{name} has no usable SQL n-grams")
    pairs = pair_rows(sources, targets, vectors, opts)
    scale, scale_source = kl_scale(pairs, opts)
    for row in pairs:
        row["alignment"] = metrics.alignment(row["kl"], scale)
    report = {"pairs": pairs, "ar": ar_rows(pairs, trains, targets, preds), "kl_scale": scale,
              "kl_scale_source": scale_source}
    if with_explain:
        names = space.names()
        report["explanations"] = [
            {"source": s, "target": t,
             **explain(vectors[s], vectors[t], names, opts.top, opts.eps)}
            for s in sources for t in targets]
    if with_bootstrap and opts.bootstrap_sizes:
        report["bootstrap"] = [
            {"source": s, "target": t,
             "intervals": bootstrap(vectors[s], targets[t], space, scale, opts)}
            for s in sources for t in targets]
    report["vocab_size"] = len(space.vocab)
    return report


def ar_rows(pairs: list[dict], trains: dict, targets: dict, preds: dict) -> list[dict]:
    a = {(r["source"], r["target"]): r["alignment"] for r in pairs}
    rows = []
    for p_name in preds:
        for t_name in targets:
            for tr_name in trains:
                ar = metrics.alignment_ratio(a[(tr_name, t_name)], a[(p_name, t_name)])
                rows.append({"train": tr_name, "target": t_name, "preds": p_name,
                             "a_train": a[(tr_name, t_name)], "a_preds": a[(p_name, t_name)],
                             "ar": ar if math.isfinite(ar) else None})
    return rows
