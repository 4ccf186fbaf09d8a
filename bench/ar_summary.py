"""The summary of bench/ar_experiment.py: the alignment of every finished pair (one KL scale for
the whole experiment), AR's agreement with the EX gain, the docs/results.md table and the plot.

    python bench/ar_experiment.py --summarize     # or: python bench/ar_summary.py
    python bench/ar_experiment.py --plot          # redraw docs/ar_scatter.png from the JSON
"""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from ar_experiment import (ALL_TARGETS, MODELS, N_EVAL, OVERRIDES, PILOT, PROMPT, QWEN,  # noqa: E402
                           RUNS, PARTS, SEED, SELECT_STEER, TRAIN_SIZE, part, select_subset,
                           slug, synth_set)


def _profile(name: str, sqls: list[str]):
    from alignsql.align.profile import profile_examples
    from alignsql.data.example import Example
    return profile_examples(name, [Example("", q, id=str(i)) for i, q in enumerate(sqls)],
                            workers=1)


def _target_gold(target: str) -> list[str]:
    from alignsql.data import registry
    from alignsql.models.predict import PredictConfig, choose_examples
    cfg = PredictConfig(dataset=target, sample=N_EVAL, with_db=True, seed=SEED)
    return [e.sql for e in choose_examples(registry.load(target), cfg)]


def _trained_sql(model: str, spec: str, seed: int, n: int, pilot: bool,
                 n_trained: int) -> list[str]:
    """The SQL a run trained on: its config rebuilt from the same file and overrides, then
    sampled, filtered (over max_length) and split (validation part) as the run did; the count
    must match the one the run recorded (wave 1's runs excepted)."""
    from alignsql import config
    from alignsql.models.loading import load_tokenizer
    from alignsql.train.config import SFTConfig
    from alignsql.train.data import build_training_data, gather
    if model != QWEN or pilot:  # wave 1's runs: the prompt code that decided which examples
        # fit is gone (rebuilt, ATIS keeps 47 of SmolLM2's 153), so all examples drawn
        return [ex.sql for ex, _ in gather([spec], [n], [], None, seed, None)]
    cfg = config.load_yaml(SFTConfig, ROOT / MODELS[model][0], [
        f"train=[{spec}]", f"train_size=[{n}]", f"seed={seed}", *OVERRIDES[model]])
    data = build_training_data(cfg, load_tokenizer(cfg.model))
    if len(data.train) != n_trained:
        raise RuntimeError(f"{model} {spec} seed {seed}: rebuilt {len(data.train)} training "
                           f"examples, the run recorded {n_trained}")
    from alignsql.data import registry
    sql = {(f"{ex.source}:{ex.split}", ex.id): ex.sql for ex in registry.load(spec).examples}
    return [sql[r["source"], r["id"]] for r in data.train]


def _verdicts(target: str, stage_result: dict) -> dict[str, bool]:
    """Each question's verdict of an evaluation stage (kept since #15; wave 1's stages are
    scored again from their stored predictions, the same way)."""
    if "correct" in stage_result:
        right = set(stage_result["correct"])
        return {p["id"]: p["id"] in right for p in stage_result["preds"]}
    from alignsql.data import registry
    from alignsql.eval.evaluate import evaluate as score
    ds = registry.load(target)
    by_id = {e.id: e for e in ds.examples}
    examples = [by_id[p["id"]] for p in stage_result["preds"]]
    results, _ = score(examples, {p["id"]: p["sql"] for p in stage_result["preds"]},
                       {e.db_id: ds.db_path(e.db_id) for e in examples}, workers=1)
    return {r.id: r.status == "correct" for r in results}


def _paired(target: str, before: dict, after: dict) -> dict:
    """EX gain with its paired bootstrap interval and exact McNemar p (same questions)."""
    from alignsql.eval.significance import paired_comparison
    a, b = _verdicts(target, before), _verdicts(target, after)
    ids = sorted(set(a) & set(b))
    r = paired_comparison([a[i] for i in ids], [b[i] for i in ids], seed=SEED)
    return {"gain": r["diff"], "gain_ci": r["ci"], "p_value": r["p_value"], "n_paired": len(ids)}


def _restore(spec: str) -> None:
    """A finished pair's training file made again when bench/out is gone (the summary rebuilds
    what each run trained on from it): the select subset is seeded, so it comes out the same;
    the synthetic set is written anew (its SQL is seeded, its questions and round trip are
    generated: _trained_sql's count check says when it differs)."""
    path = Path(spec.removeprefix("file:"))
    if not spec.startswith("file:") or path.exists():
        return
    if path.parent == RUNS / "synth":
        synth_set()
    elif path.name.startswith("select_"):
        remade = select_subset(SELECT_STEER[QWEN], TRAIN_SIZE[QWEN])
        if remade != spec:
            raise RuntimeError(f"{path}: not a subset this script makes ({remade})")


def _rows() -> list[dict]:
    """One row per finished (model, train set, target, seed)."""
    rows = []
    for path in sorted(PARTS.glob("after__*.json")):
        run, target_slug = path.stem[len("after__"):].rsplit("__", 1)
        train = json.loads(part(f"train__{run}").read_text())
        _restore(train["train"])
        target = next(t for t in ALL_TARGETS if slug(t) == target_slug)
        before = json.loads(part(f"before__{slug(train['model'], target)}").read_text())
        after = json.loads(path.read_text())
        pilot = train["model"] == QWEN and "__n" not in run
        rows.append({"model": train["model"], "train": train["train"], "target": target,
                     "seed": train["seed"], "n_train": train["n_train"], "n_eval": after["n"],
                     "ex_before": before["ex"], "ex_after": after["ex"],
                     **_paired(target, before, after), **({"label": PILOT} if pilot else {}),
                     "_n_requested": 100 if pilot else train.get("n_requested",
                                                                  TRAIN_SIZE[train["model"]]),
                     "_before": [p["sql"] for p in before["preds"]],
                     "_after": [p["sql"] for p in after["preds"]]})
    return rows


def _alignments(rows: list[dict]) -> float:
    """Fill a_train, a_preds, a_after and ar with one KL scale for the whole experiment."""
    from alignsql.align import metrics
    from alignsql.align.space import NgramSpace
    space = NgramSpace(15)
    cache: dict[str, object] = {}

    def prof(key: str, sqls):  # sqls: a function, called once per key (a rebuild is slow)
        if key not in cache:
            cache[key] = _profile(key, sqls())
            space.add(cache[key])
        return cache[key]
    kls = []
    for r in rows:
        tgt = prof(f"gold:{r['target']}", lambda r=r: _target_gold(r["target"]))
        n = r["_n_requested"]
        train = prof(f"train:{r['model']}:{r['train']}:{r['seed']}:{n}:{'label' in r}",
                     lambda r=r, n=n: _trained_sql(r["model"], r["train"], r["seed"], n,
                                                  "label" in r, r["n_train"]))
        pre = prof(f"pre:{r['model']}:{r['target']}:{n}", lambda r=r: r["_before"])
        post = prof(f"post:{r['model']}:{r['train']}:{r['seed']}:{r['target']}:{n}",
                    lambda r=r: r["_after"])
        r["_kl"] = {k: metrics.kl(space.counts(p), space.counts(tgt))
                    for k, p in (("train", train), ("preds", pre), ("after", post))}
        # the other direction, KL(target || set): does it rank the gains better?
        r["_kl_rev"] = {k: metrics.kl(space.counts(tgt), space.counts(p))
                        for k, p in (("train", train), ("preds", pre))}
        r["ovlp"] = metrics.ovlp(space.counts(train), space.counts(tgt))
        kls.extend(r["_kl"].values())
    scale = max(kls)
    scale_rev = max(v for r in rows for v in r["_kl_rev"].values())  # its own, so A stays
    for r in rows:                                                   # as wave 1 reported it
        a = {k: metrics.alignment(v, scale) for k, v in r["_kl"].items()}
        rev = {k: metrics.alignment(v, scale_rev) for k, v in r["_kl_rev"].items()}
        r.update(a_train=a["train"], a_preds=a["preds"], a_after=a["after"],
                 ar=metrics.alignment_ratio(a["train"], a["preds"]),
                 ar_reverse=metrics.alignment_ratio(rev["train"], rev["preds"]))
    return scale


def by_model(rows: list[dict]) -> dict:
    """Per model (pilot and second-seed rows left out): sign agreement and Spearman of AR
    with the gain, each with a bootstrap interval over pairs; sign agreement on the pairs
    whose gain is significant (McNemar p < 0.05); Spearman of OVLP and of the
    reverse-direction AR for comparison."""
    from alignsql.align import gains as G
    out = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model and r["seed"] == SEED and "label" not in r]
        out[model] = G.summary(mine)
        # a gain inside noise has no trustworthy sign: agreement on the significant ones too
        sig = [r for r in mine if r["p_value"] < 0.05]
        out[model].update(n_significant=len(sig), sign_agreement_significant=G.sign_agreement(sig))
        for name, key in (("spearman_ovlp", "ovlp"), ("spearman_reverse", "ar_reverse")):
            out[model][name] = G.rank_correlation(mine, key)
            out[model][name + "_ci"] = G.pair_bootstrap(
                mine, lambda rows, k=key: G.rank_correlation(rows, k))
    return out


def summarize() -> None:
    """Alignment of every finished pair, agreement of AR with the EX gain, table and plot."""
    from alignsql.align import gains as G
    rows = _rows()
    if not rows:
        print("no finished pairs yet")
        return
    scale = _alignments(rows)
    main_rows = [r for r in rows if r["seed"] == SEED and "label" not in r]
    pairs = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    expected = sum(len(sets) * len(tgts) for _, sets, tgts in MODELS.values())
    result = {"complete": len(main_rows) >= expected, "expected_pairs": expected,
              "pairs": pairs, "summary_by_model": by_model(rows),
              "sign_agreement": G.sign_agreement(main_rows),
              "spearman": G.rank_correlation(main_rows),
              "n_pairs": len(main_rows), "kl_scale": scale,
              "settings": {"n_train": TRAIN_SIZE, "n_eval": N_EVAL, "seed": SEED,
                           "overrides": OVERRIDES, "prompt": PROMPT,
                           "qwen_select_steer": SELECT_STEER,
                           "models": {m: v[0] for m, v in MODELS.items()}},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "command": "python bench/ar_experiment.py"}
    (ROOT / "bench" / "results" / "ar_experiment.json").write_text(json.dumps(result, indent=2))
    _plot(main_rows)
    print(json.dumps({k: result[k] for k in ("n_pairs", "sign_agreement", "spearman",
                                             "summary_by_model")}))
    print("\n".join(table(pairs)))


def table(pairs: list[dict]) -> list[str]:
    """The docs/results.md table of the finished pairs, from the summary's numbers."""
    lines = [("| model | train | examples | target | seed | A(train) | A(preds) | AR "
             "| EX before | EX after | gain [95% CI] | McNemar p | A(post-SFT preds) |"),
             "|" + "---|" * 13]
    for p in pairs:
        lo, hi = p["gain_ci"]
        model = p["model"] + (f" ({p['label']})" if p.get("label") else "")
        train = "/".join(p["train"].split("/")[-2 if "/synth/" in p["train"] else -1:])
        lines.append(f"| {model} | {train} | {p['n_train']} | {p['target']} "
                     f"| {p['seed']} "
                     f"| {p['a_train']:.3f} | {p['a_preds']:.3f} | {p['ar']:.2f} "
                     f"| {p['ex_before']:.3f} | {p['ex_after']:.3f} "
                     f"| {p['gain']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {p['p_value']:.2g} "
                     f"| {p['a_after']:.3f} |")
    return lines


def _short(train: str) -> str:
    if "/synth/" in train:  # the synthetic set's file is round1.jsonl
        return "synth"
    name = train.split("/")[-1].removesuffix(":train")
    return next((k for k in ("select", "synth") if name.startswith(k)), name)


def _plot(rows: list[dict]) -> None:
    """AR against the EX gain with its paired 95% interval, one panel per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = sorted({r["model"] for r in rows}, key=lambda m: m.startswith("smol"))
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in rows if r["model"] == model]
        color = "#0d7377" if model.startswith("smol") else "#b45309"
        for r in mine:
            lo, hi = (100 * v for v in r["gain_ci"])
            g = 100 * r["gain"]
            ax.errorbar(r["ar"], g, yerr=[[g - lo], [hi - g]], fmt="o", color=color,
                        ecolor=color, alpha=0.8, capsize=2, ms=5)
            ax.annotate(f"{_short(r['train'])}→{r['target'].split(':')[0]}", (r["ar"], g),
                        fontsize=6.5, xytext=(4, 2), textcoords="offset points")
        ax.axvline(1, color="#999", lw=0.8)
        ax.axhline(0, color="#999", lw=0.8)
        ax.margins(x=0.2, y=0.1)
        ax.set_xlabel("Alignment Ratio (AR)")
        ax.set_ylabel("EX gain from SFT (points, 95% CI)")
        ax.set_title(f"{model}: {len(mine)} pairs", fontsize=9)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "ar_scatter.png", dpi=120)


def plot_from_results() -> None:
    """The plot again from bench/results/ar_experiment.json (no rescoring)."""
    result = json.loads((ROOT / "bench" / "results" / "ar_experiment.json").read_text())
    _plot([p for p in result["pairs"] if p["seed"] == SEED and "label" not in p])


if __name__ == "__main__":
    summarize()
