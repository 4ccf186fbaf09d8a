"""``alignsql align``: from dataset specs to the alignment report (library side, no printing)."""
from __future__ import annotations

import multiprocessing as mp
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

from alignsql.align.compare import CompareOptions, compare
from alignsql.align.profile import Profile, content_key, load_cached, profile_examples, store_cached
from alignsql.config import at_least
from alignsql.data import registry
from alignsql.errors import AlignSQLError


@dataclass
class AlignConfig:
    train: list[str] = field(default_factory=list)
    """Training-set dataset specs (name:split or file:PATH); repeat the option for several."""
    target: list[str] = field(default_factory=list)
    """Target workload specs: what the model must answer after fine-tuning."""
    preds: list[str] = field(default_factory=list)
    """JSONL files of the model's own predictions on the target (``sql`` per line): enables AR."""
    target_sample: int | None = None
    """Use a seeded random sample of this many target queries."""
    max_n: int = 15
    """Longest template n-gram (the paper uses 15)."""
    eps: float = 1e-6
    """Additive smoothing of the n-gram distributions before KL."""
    gains: str | None = None
    """JSON/JSONL/CSV of measured EX gains (records: train, target, gain = EX after - EX
    before, optional gain_ci): the report then plots AR against the gain."""
    kl_scale: float | None = None
    """Fix c in A = exp(-KL/c) (overrides kl_scale_mode)."""
    kl_scale_mode: str = "reference"
    """c when kl_scale is not given: reference (a constant from the public benchmark matrix,
    so A is comparable across reports) or report (the largest KL of this report, the
    paper's per-study normalisation)."""
    direction: str = "source-target"
    """KL direction: source-target = D(train||target), or target-source."""
    bootstrap: list[int] = field(default_factory=lambda: [50, 100, 200, 0])
    """Target sample sizes for bootstrap intervals of A (0 = all)."""
    n_boot: int = 100
    """Bootstrap resamples per interval."""
    seed: int = 0
    """Seed for target sampling and the bootstrap."""
    top: int = 10
    """How many divergent n-grams to explain per pair."""
    data_root: str | None = None
    """Data folder (default: $ALIGNSQL_DATA, else ../shared/data)."""
    workers: int = 2
    """Processes for templating."""
    cache: bool = True
    """Reuse cached templates (keyed by the content hash of the data files)."""

    def __post_init__(self) -> None:
        if self.direction not in ("source-target", "target-source"):
            raise AlignSQLError(f"direction must be source-target or target-source, "
                                f"not {self.direction!r}")
        if self.kl_scale_mode not in ("reference", "report"):
            raise AlignSQLError(f"kl_scale_mode (--kl-scale-mode) must be reference or report, "
                                f"not {self.kl_scale_mode!r}")
        at_least(self, max_n=1, n_boot=1, target_sample=1, top=0, workers=1, eps=1e-300,
                 kl_scale=1e-300)


def profile_spec(spec: str, root: str | None = None, workers: int = 2, cache: bool = True,
                 progress: bool = False) -> Profile:
    """A dataset spec's template profile, from the cache when its files are unchanged."""
    files = registry.files(spec, root)
    missing = [f for f in files if not f.exists()]
    if missing:
        raise AlignSQLError(f"{missing[0]}: file not found (dataset {spec})")
    key = content_key(files, spec)
    prof = load_cached(key) if cache else None
    if prof is None:
        ds = registry.load(spec, root)
        if not ds.examples:
            raise AlignSQLError(f"dataset {spec} has no examples with SQL")
        prof = profile_examples(spec, ds.examples, workers, progress)
        if cache:
            store_cached(key, prof)
    prof.name = spec
    return prof


def _profile_one(args: tuple[str, str | None, bool]) -> Profile:
    spec, root, cache = args
    return profile_spec(spec, root, workers=1, cache=cache)


def profile_specs(specs: list[str], root: str | None = None, workers: int = 2,
                  cache: bool = True, progress: bool = False) -> dict[str, Profile]:
    """Profiles of many specs. With a cold cache the specs themselves are spread over the
    workers (loading a dataset is as costly as templating it, and is serial within a spec);
    a lone uncached spec is templated in parallel instead."""
    specs = list(dict.fromkeys(specs))
    out: dict[str, Profile] = {}
    todo = []
    for spec in specs:  # cached profiles are read once, here
        files = registry.files(spec, root)
        ready = cache and all(f.exists() for f in files)  # else profile_spec names what is missing
        prof = load_cached(content_key(files, spec)) if ready else None
        if prof is None:
            todo.append(spec)
        else:
            prof.name = spec
            out[spec] = prof
    if workers > 1 and len(todo) > 1:
        # biggest first, so the longest load starts at once
        todo.sort(key=lambda s: -sum(f.stat().st_size for f in registry.files(s, root)
                                     if f.exists()))
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            for spec, prof in zip(todo, pool.map(_profile_one, [(s, root, cache) for s in todo])):
                out[spec] = prof
    for spec in specs:
        if spec not in out:
            out[spec] = profile_spec(spec, root, workers, cache, progress)
    return {s: out[s] for s in specs}


def sample(prof: Profile, k: int | None, seed: int) -> Profile:
    if not k or k >= prof.n:
        return prof
    rows = sorted(random.Random(seed).sample(range(prof.n), k))
    return prof.subset(rows, name=prof.name)


def run_align(cfg: AlignConfig, progress: bool = False) -> dict:
    if not cfg.train and not cfg.preds:
        raise AlignSQLError("give at least one --train (or --preds) to compare with the target")
    if not cfg.target:
        raise AlignSQLError("give at least one --target")
    pred_specs = {p: p if p.startswith("file:") else f"file:{p}" for p in cfg.preds}
    profs = profile_specs([*cfg.train, *cfg.target, *pred_specs.values()], cfg.data_root,
                          cfg.workers, cfg.cache, progress)
    trains = {s: profs[s] for s in cfg.train}
    targets = {s: sample(profs[s], cfg.target_sample, cfg.seed) for s in cfg.target}
    preds = {p: profs[spec] for p, spec in pred_specs.items()}
    opts = CompareOptions(cfg.max_n, cfg.eps, cfg.kl_scale, cfg.kl_scale_mode, cfg.direction,
                          cfg.bootstrap, cfg.n_boot, cfg.seed, cfg.top)
    try:
        report = compare(trains, targets, preds, opts)
    except ValueError as exc:
        raise AlignSQLError(str(exc)) from None
    if cfg.gains:
        from alignsql.align import gains
        rows = gains.ar_vs_gain(report["ar"], gains.read_gains(cfg.gains))
        if not rows:
            raise AlignSQLError(f"{cfg.gains}: no gain matches an AR row (train and target "
                                f"must be spelled as in --train and --target)")
        report["ar_vs_gain"] = {"rows": rows, **gains.summary(rows)}
    report["config"] = asdict(cfg)
    return report
