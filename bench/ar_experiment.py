"""Does the Alignment Ratio predict the gain from SFT? (issue: SFT and the AR experiment)

For each model: pre-SFT predictions on each target (a fixed, seeded sample of questions with a
database) give EX before and A(preds, target); each training set (the same number of examples,
same steps and seed) is fine-tuned once and evaluated on every target, giving EX after and
A(post-SFT preds, target); A(train, target) is computed on the exact training sample. All
alignments share one KL scale c (the largest KL of the experiment). Finally: how often
sign(AR - 1) agrees with sign(EX gain), and the Spearman correlation of AR and the gain.

Every stage writes a small JSON under bench/results/ar_experiment/ (committed), so a killed or
later session resumes where this one stopped; trained models live in bench/out/ar_runs/.

    nohup python bench/ar_experiment.py > bench/out/ar_experiment.log 2>&1 &
    python bench/ar_experiment.py --summarize     # tables, plot and ar_experiment.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARTS = ROOT / "bench" / "results" / "ar_experiment"
RUNS = ROOT / "bench" / "out" / "ar_runs"
N_TRAIN, N_EVAL, SEED = 300, 200, 0
TARGETS = ["spider:dev", "geoquery:all"]
# Qwen at scale (#15): Spider dev's test part (its steer part aligns the `select` subset),
# GeoQuery's test questions (its train questions are a training set) and KaggleDBQA
QWEN_TARGETS = ["spider:dev@test", "geography:test", "kaggledbqa:all"]
ALL_TARGETS = TARGETS + QWEN_TARGETS
MAX_NEW = {"spider:dev": 160, "geoquery:all": 240, "spider:dev@test": 160,
           "geography:test": 240, "kaggledbqa:all": 200}  # > the 99th pct of gold SQL tokens
TRAIN_SETS = ["spider:train", "bird:train", "wikisql:train", "atis:train", "advising:train"]
QWEN_SETS = ["spider:train", "bird:train", "atis:train", "advising:train", "geography:train",
             "select", "synth"]
# "synth": one round of verified synthesis (alignsql synth) on the Spider dev databases, steered
# to spider:dev@steer, questions written and round-tripped by the untuned Qwen (SYNTH_N
# verified queries; about 1 in 4 survives the round trip)
SYNTH_N = 1200
SELECT_POOL = ["bird:train", "wikisql:train", "atis:train", "advising:train"]
SELECT_STEER = {"qwen2.5-coder-0.5b": "spider:dev@steer"}  # one subset for every Qwen target
QWEN = "qwen2.5-coder-0.5b"
MODELS = {  # model -> (config file, training sets, targets)
    "smollm2-135m": ("configs/sft/smollm2-135m_full.yaml", TRAIN_SETS + ["select"], TARGETS),
    QWEN: ("configs/sft/qwen2.5-coder-0.5b_lora.yaml", QWEN_SETS, QWEN_TARGETS),
}
TRAIN_SIZE = {"smollm2-135m": N_TRAIN, QWEN: 500}
OVERRIDES = {"smollm2-135m": ["max_length=512", "epochs=1", "eval=null", "save_steps=20",
                              "logging_steps=5"],
             # Qwen (#15) never trains on a target's questions: spider:train holds 113 of
             # geography:test's word for word (alignsql.data.overlap); no validation hold-out,
             # and an example too long for max_length (361 of ATIS's first 500) is replaced by
             # another of the same set, so every set trains on 500 examples
             QWEN: ["epochs=1", "eval=null", "save_steps=20", "logging_steps=5", "val_fraction=0",
                    "refill=true", "exclude=[" + ",".join(QWEN_TARGETS) + "]"]}
PROMPT = {"smollm2-135m": {"sample_values": 0},  # the prompts each config trains with,
          QWEN: {"sample_values": 3, "max_prompt_tokens": 896}}  # before and after alike
PILOT = "pilot"
"""Wave 1's two Qwen pairs (100 examples, SmolLM2's prompt settings) are kept, labelled so."""
N_CORE = 9  # SmolLM2's jobs before its remaining training sets
REPEAT = ("smollm2-135m", "spider:train", 1)  # (model, train set, second seed)


def slug(*parts: object) -> str:
    return "__".join(str(p).replace(":", "-").replace("/", "-") for p in parts)


def part(name: str) -> Path:
    return PARTS / f"{name}.json"


COMPUTED: list[str] = []  # the stages this process ran (none: the summary is up to date)


def stage(name: str, fn, *args):
    """Run ``fn`` unless its part file exists; store its JSON result."""
    path = part(name)
    if path.exists():
        return json.loads(path.read_text())
    print(f"{time.strftime('%H:%M:%S')} {name}", flush=True)
    COMPUTED.append(name)
    start = time.perf_counter()
    result = fn(*args)
    result["seconds"] = time.perf_counter() - start
    PARTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return result


def select_subset(target: str, k: int = N_TRAIN) -> str:
    """An `alignsql select` subset of the out-of-domain pool, aligned to the target."""
    from alignsql.align.selection import SelectConfig, run_select
    name = f"select_{slug(target)}" + (f"_k{k}" if k != N_TRAIN else "")
    out = RUNS / f"{name}.jsonl"
    if not out.exists():
        exclude = QWEN_TARGETS if k == TRAIN_SIZE[QWEN] else []  # wave 1's SmolLM2 subsets as run
        run_select(SelectConfig(pool=SELECT_POOL, target=target, k=k, out=str(out),
                                seed=SEED, exclude=exclude))
    return f"file:{out}"


def _synthesize() -> dict:
    from alignsql.synth.config import SynthConfig
    from alignsql.synth.run import run_synth
    cfg = SynthConfig(db="spider:dev", templates_from="spider:train", target="spider:dev@steer",
                      target_limit=200, n=SYNTH_N, rounds=1, out=str(RUNS / "synth"),
                      sql2text_model=QWEN, text2sql_model=QWEN, val_fraction=0.0,
                      real=[], real_size=[], backend="hf", seed=SEED)
    stats = run_synth(cfg)["rounds"][0]
    # "seconds" is the stage's own total (stage() sets it): the phases under their own key
    return {"phase_seconds": stats["seconds"],
            **{k: stats[k] for k in ("verified_sql", "pairs", "round_trip_pass", "filters",
                                     "dropped_after_sql", "train")}}


def synth_set() -> str:
    """The synthetic training set (its stats in a stage file; made again when bench/out is
    gone: the same seed draws the same queries, the model may word some questions anew).
    Its records carry the note of what steered them (alignsql.data.splits)."""
    made = stage(f"synth__{QWEN}", _synthesize)
    if not Path(made["train"]).exists():
        part(f"synth__{QWEN}").unlink()
        made = stage(f"synth__{QWEN}", _synthesize)
    return f"file:{made['train']}"


def train_spec(name: str, target: str, model: str) -> str:
    """The dataset spec a job trains on."""
    if name == "synth":
        return synth_set()
    if name != "select":
        return name
    return select_subset(SELECT_STEER.get(model, target), TRAIN_SIZE[model])


def train_size(model: str, spec: str) -> int:
    """The model's training size, or all of a smaller file (the synthetic set)."""
    if spec.startswith("file:"):
        return min(TRAIN_SIZE[model], sum(1 for _ in open(spec[5:])))
    return TRAIN_SIZE[model]


def run_name(model: str, name: str, target: str, seed: int) -> str:
    """A training run's name: a select subset is per target unless one steer set serves all;
    Qwen's runs carry their size (wave 1's 100-example pilot has the plain name)."""
    per_target = name == "select" and model not in SELECT_STEER
    size = f"__n{TRAIN_SIZE[model]}" if model == QWEN else ""
    return slug(model, name, target if per_target else "", seed) + size


def train_run(model: str, cfg_file: str, spec: str, run: str, seed: int) -> dict:
    out = RUNS / run
    n = train_size(model, spec)
    cmd = [sys.executable, "-m", "alignsql.cli.main", "train", "sft", "--config", cfg_file,
           f"name={run}", f"output_dir={RUNS}", f"train=[{spec}]", f"train_size=[{n}]",
           f"seed={seed}", *OVERRIDES[model]]
    resume = ["--resume"] if (out / "config.yaml").exists() else []
    subprocess.run(cmd + resume, check=True, cwd=ROOT)
    summary = json.loads((out / "summary.json").read_text())
    return {"model": model, "train": spec, "run": run, "seed": seed, "n_requested": n,
            **summary}


def evaluate(model_path: str, target: str, folder: Path, prompt: dict | None = None) -> dict:
    """EX on the target's seeded sample, with the prompt the model's config trains with
    (SmolLM2's by default, as wave 1 ran); each question's verdict is kept for pairing."""
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict
    pcfg = PredictConfig(model=model_path, dataset=target, sample=N_EVAL, with_db=True,
                         seed=SEED, max_new_tokens=MAX_NEW[target],
                         **(prompt or PROMPT["smollm2-135m"]), out=str(folder / "preds.jsonl"))
    stats = run_predict(pcfg)
    results, s = run_eval(EvalConfig(dataset=target, preds=pcfg.out, only_predicted=True))
    preds = [json.loads(x) for x in Path(pcfg.out).read_text().splitlines()]
    return {"ex": s.ex, "n": s.n_scored, "valid": s.valid, "qps": stats["qps"],
            "preds": [{"id": p["id"], "sql": p["sql"]} for p in preds],
            "correct": sorted(r.id for r in results if r.status == "correct")}


def trained(model: str, cfg_file: str, spec: str, run: str, seed: int) -> dict:
    """The training stage; redone when its model is gone (bench/out is not kept between
    sessions, the stage files are)."""
    t = stage(f"train__{run}", train_run, model, cfg_file, spec, run, seed)
    if not Path(t["merged"]).exists():
        part(f"train__{run}").unlink()
        t = stage(f"train__{run}", train_run, model, cfg_file, spec, run, seed)
    return t


def jobs(model: str | None = None) -> list[tuple[str, str, str, int]]:
    """(model, training set, target, seed) in the order they run. SmolLM2: the cheapest way
    to every kind of evidence first (both targets with the four core training sets, the
    second seed), then the remaining training sets. Qwen: one training set at a time on all
    its targets (one training serves three pairs). Wave 1's Qwen pilot is done and not
    listed (its stage files are read by the summary)."""
    small = "smollm2-135m"
    core, extra = TRAIN_SETS[:4], TRAIN_SETS[4:] + ["select"]
    smol = [(small, t, tgt, SEED) for tgt in TARGETS for t in core]
    smol.append((REPEAT[0], REPEAT[1], "spider:dev", REPEAT[2]))
    assert len(smol) == N_CORE
    smol += [(small, t, tgt, SEED) for tgt in TARGETS for t in extra]
    qwen = [(QWEN, t, tgt, SEED) for t in QWEN_SETS for tgt in QWEN_TARGETS]
    return {small: smol, QWEN: qwen}[model] if model else smol + qwen


def main(core_only: bool = False, model: str | None = None) -> None:
    """Every job: the model's pre-SFT evaluation on the target, the training run (shared by
    every target it is evaluated on: its stage file is reused), the post-SFT evaluation."""
    RUNS.mkdir(parents=True, exist_ok=True)
    todo = jobs(model)
    for model_name, name, target, seed in todo[:N_CORE] if core_only else todo:
        cfg_file, prompt = MODELS[model_name][0], PROMPT[model_name]
        stage(f"before__{slug(model_name, target)}", evaluate, model_name, target,
              RUNS / f"before_{slug(model_name, target)}", prompt)
        run = run_name(model_name, name, target, seed)
        if part(f"after__{run}__{slug(target)}").exists():
            continue  # finished: its model may be gone (bench/out is not always kept)
        spec = train_spec(name, target, model_name)
        t = trained(model_name, cfg_file, spec, run, seed)
        stage(f"after__{run}__{slug(target)}", evaluate, t["merged"], target,
              RUNS / f"after_{run}_{slug(target)}", prompt)
    if COMPUTED:  # else nothing changed since the last summary (it takes ~20 min here)
        summarize()


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--summarize", action="store_true")
    ap.add_argument("--plot", action="store_true", help="redraw docs/ar_scatter.png from the JSON")
    ap.add_argument("--core-only", action="store_true",
                    help="SmolLM2's first 9 jobs (four training sets on both targets, a seed)")
    ap.add_argument("--model", choices=list(MODELS), help="only this model's jobs")
    args = ap.parse_args()
    if args.plot:
        plot_from_results()
    elif args.summarize:
        summarize()
    else:
        main(args.core_only, args.model)
