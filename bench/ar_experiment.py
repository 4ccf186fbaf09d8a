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
MAX_NEW = {"spider:dev": 160, "geoquery:all": 240}  # > the 99th percentile of gold SQL tokens
TRAIN_SETS = ["spider:train", "bird:train", "wikisql:train", "atis:train", "advising:train"]
SELECT_POOL = ["bird:train", "wikisql:train", "atis:train", "advising:train"]
MODELS = {  # model -> (config file, training sets, targets)
    "smollm2-135m": ("configs/sft/smollm2-135m_full.yaml", TRAIN_SETS + ["select"], TARGETS),
    "qwen2.5-coder-0.5b": ("configs/sft/qwen2.5-coder-0.5b_lora.yaml",
                           ["spider:train", "atis:train"], ["spider:dev"]),
}
# Qwen's LoRA step costs ~4x SmolLM2's on this CPU: its two contrasting pairs train on 100
# examples (equal between them), not 300
TRAIN_SIZE = {"smollm2-135m": N_TRAIN, "qwen2.5-coder-0.5b": 100}
OVERRIDES = ["max_length=512", "epochs=1", "eval=null", "save_steps=20", "logging_steps=5"]
N_CORE = 11  # jobs() before the remaining training sets
REPEAT = ("smollm2-135m", "spider:train", 1)  # (model, train set, second seed)


def slug(*parts: object) -> str:
    return "__".join(str(p).replace(":", "-").replace("/", "-") for p in parts)


def part(name: str) -> Path:
    return PARTS / f"{name}.json"


def stage(name: str, fn, *args):
    """Run ``fn`` unless its part file exists; store its JSON result."""
    path = part(name)
    if path.exists():
        return json.loads(path.read_text())
    print(f"{time.strftime('%H:%M:%S')} {name}", flush=True)
    start = time.perf_counter()
    result = fn(*args)
    result["seconds"] = time.perf_counter() - start
    PARTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return result


def select_subset(target: str) -> str:
    """An `alignsql select` subset of the out-of-domain pool, aligned to the target."""
    from alignsql.align.selection import SelectConfig, run_select
    out = RUNS / f"select_{slug(target)}.jsonl"
    if not out.exists():
        run_select(SelectConfig(pool=SELECT_POOL, target=target, k=N_TRAIN, out=str(out),
                                seed=SEED))
    return f"file:{out}"


def train_spec(name: str, target: str) -> str:
    return select_subset(target) if name == "select" else name


def train_run(model: str, cfg_file: str, spec: str, run: str, seed: int) -> dict:
    out = RUNS / run
    n = TRAIN_SIZE[model]
    cmd = [sys.executable, "-m", "alignsql.cli.main", "train", "sft", "--config", cfg_file,
           f"name={run}", f"output_dir={RUNS}", f"train=[{spec}]", f"train_size=[{n}]",
           f"seed={seed}", *OVERRIDES]
    resume = ["--resume"] if (out / "config.yaml").exists() else []
    subprocess.run(cmd + resume, check=True, cwd=ROOT)
    summary = json.loads((out / "summary.json").read_text())
    return {"model": model, "train": spec, "run": run, "seed": seed, **summary}


def evaluate(model_path: str, target: str, folder: Path, seed: int = SEED) -> dict:
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict
    # sample_values=0: the prompts the SFT configs train with, before and after alike
    pcfg = PredictConfig(model=model_path, dataset=target, sample=N_EVAL, with_db=True,
                         seed=SEED, max_new_tokens=MAX_NEW[target], sample_values=0,
                         out=str(folder / "preds.jsonl"))
    stats = run_predict(pcfg)
    _, s = run_eval(EvalConfig(dataset=target, preds=pcfg.out, only_predicted=True))
    preds = [json.loads(x) for x in Path(pcfg.out).read_text().splitlines()]
    return {"ex": s.ex, "n": s.n_scored, "valid": s.valid, "qps": stats["qps"],
            "preds": [{"id": p["id"], "sql": p["sql"]} for p in preds]}


def trained(model: str, cfg_file: str, spec: str, run: str, seed: int) -> dict:
    """The training stage; redone when its model is gone (bench/out is not kept between
    sessions, the stage files are)."""
    t = stage(f"train__{run}", train_run, model, cfg_file, spec, run, seed)
    if not Path(t["merged"]).exists():
        part(f"train__{run}").unlink()
        t = stage(f"train__{run}", train_run, model, cfg_file, spec, run, seed)
    return t


def jobs() -> list[tuple[str, str, str, int]]:
    """(model, training set, target, seed) in the order they run: the cheapest way to every
    kind of evidence first (both targets with the four core training sets, the second seed,
    the Qwen pairs), then the remaining training sets, so a session that stops early still
    leaves a complete design behind."""
    core, extra = TRAIN_SETS[:4], TRAIN_SETS[4:] + ["select"]
    small, big = "smollm2-135m", "qwen2.5-coder-0.5b"
    out = [(small, t, tgt, SEED) for tgt in TARGETS for t in core]
    out.append((REPEAT[0], REPEAT[1], "spider:dev", REPEAT[2]))
    out += [(big, t, tgt, SEED) for tgt in MODELS[big][2] for t in MODELS[big][1]]
    assert len(out) == N_CORE
    return out + [(small, t, tgt, SEED) for tgt in TARGETS for t in extra]


def main(core_only: bool = False) -> None:
    """Every job: the model's pre-SFT evaluation on the target, the training run (shared by
    every target it is evaluated on: its stage file is reused), the post-SFT evaluation."""
    RUNS.mkdir(parents=True, exist_ok=True)
    todo = jobs()
    for model, name, target, seed in todo[:N_CORE] if core_only else todo:
        cfg_file = MODELS[model][0]
        stage(f"before__{slug(model, target)}", evaluate, model, target,
              RUNS / f"before_{slug(model, target)}")
        spec = train_spec(name, target)
        run = slug(model, name, target if name == "select" else "", seed)
        t = trained(model, cfg_file, spec, run, seed)
        stage(f"after__{run}__{slug(target)}", evaluate, t["merged"], target,
              RUNS / f"after_{run}_{slug(target)}")
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


def _train_sample(spec: str, seed: int, n: int) -> list[str]:
    from alignsql.train.data import gather
    return [ex.sql for ex, _ in gather([spec], [n], [], None, seed, None)]


def _rows() -> list[dict]:
    """One row per finished (model, train set, target, seed)."""
    rows = []
    for path in sorted(PARTS.glob("after__*.json")):
        run, target_slug = path.stem[len("after__"):].rsplit("__", 1)
        train = json.loads(part(f"train__{run}").read_text())
        target = next(t for t in TARGETS if slug(t) == target_slug)
        before = json.loads(part(f"before__{slug(train['model'], target)}").read_text())
        after = json.loads(path.read_text())
        rows.append({"model": train["model"], "train": train["train"], "target": target,
                     "seed": train["seed"], "n_train": train["n_train"], "n_eval": after["n"],
                     "ex_before": before["ex"], "ex_after": after["ex"],
                     "_before": [p["sql"] for p in before["preds"]],
                     "_after": [p["sql"] for p in after["preds"]]})
    return rows


def _alignments(rows: list[dict]) -> float:
    """Fill a_train, a_preds, a_after and ar with one KL scale for the whole experiment."""
    from alignsql.align import metrics
    from alignsql.align.space import NgramSpace
    space = NgramSpace(15)
    cache: dict[str, object] = {}

    def prof(key: str, sqls: list[str]):
        if key not in cache:
            cache[key] = _profile(key, sqls)
            space.add(cache[key])
        return cache[key]
    kls = []
    for r in rows:
        tgt = prof(f"gold:{r['target']}", _target_gold(r["target"]))
        n = TRAIN_SIZE[r["model"]]
        train = prof(f"train:{r['train']}:{r['seed']}:{n}",
                     _train_sample(r["train"], r["seed"], n))
        pre = prof(f"pre:{r['model']}:{r['target']}", r["_before"])
        post = prof(f"post:{r['model']}:{r['train']}:{r['seed']}:{r['target']}", r["_after"])
        r["_kl"] = {k: metrics.kl(space.counts(p), space.counts(tgt))
                    for k, p in (("train", train), ("preds", pre), ("after", post))}
        kls.extend(r["_kl"].values())
    scale = max(kls)
    for r in rows:
        a = {k: metrics.alignment(v, scale) for k, v in r["_kl"].items()}
        r.update(a_train=a["train"], a_preds=a["preds"], a_after=a["after"],
                 ar=metrics.alignment_ratio(a["train"], a["preds"]))
    return scale


def summarize() -> None:
    """Alignment of every finished pair, agreement of AR with the EX gain, table and plot."""
    from scipy.stats import spearmanr
    rows = _rows()
    if not rows:
        print("no finished pairs yet")
        return
    scale = _alignments(rows)
    main_rows = [r for r in rows if r["seed"] == SEED]
    gains = [r["ex_after"] - r["ex_before"] for r in main_rows]
    agree = [(r["ar"] > 1) == (g > 0) for r, g in zip(main_rows, gains)]
    rho = spearmanr([r["ar"] for r in main_rows], gains).statistic if len(main_rows) > 2 else None
    pairs = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    expected = sum(len(sets) * len(tgts) for _, sets, tgts in MODELS.values())
    result = {"complete": len(main_rows) >= expected, "expected_pairs": expected,
              "pairs": pairs, "sign_agreement": sum(agree) / len(agree),
              "spearman": None if rho is None or rho != rho else float(rho),
              "n_pairs": len(main_rows), "kl_scale": scale,
              "settings": {"n_train": TRAIN_SIZE, "n_eval": N_EVAL, "seed": SEED,
                           "overrides": OVERRIDES, "models": {m: v[0] for m, v in MODELS.items()}},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "command": "python bench/ar_experiment.py"}
    (ROOT / "bench" / "results" / "ar_experiment.json").write_text(json.dumps(result, indent=2))
    _plot(main_rows, gains)
    print(json.dumps({k: result[k] for k in ("n_pairs", "sign_agreement", "spearman")}))
    print("\n".join(table(pairs)))


def table(pairs: list[dict]) -> list[str]:
    """The docs/results.md table of the finished pairs, from the summary's numbers."""
    lines = [("| model | train | examples | target | seed | A(train) | A(preds) | AR "
             "| EX before | EX after | A(post-SFT preds) |"), "|" + "---|" * 11]
    for p in pairs:
        lines.append(f"| {p['model']} | {p['train']} | {p['n_train']} | {p['target']} "
                     f"| {p['seed']} "
                     f"| {p['a_train']:.3f} | {p['a_preds']:.3f} | {p['ar']:.2f} "
                     f"| {p['ex_before']:.3f} | {p['ex_after']:.3f} | {p['a_after']:.3f} |")
    return lines


def _plot(rows: list[dict], gains: list[float]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for r, g in zip(rows, gains):
        ax.scatter(r["ar"], g * 100, color="#0d7377" if r["model"].startswith("smol") else "#b45309")
        ax.annotate(f"{r['train'].split('/')[-1][:14]}→{r['target'].split(':')[0]}",
                    (r["ar"], g * 100), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.margins(x=0.25, y=0.2)
    ax.axvline(1, color="#999", lw=0.8)
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("Alignment Ratio (AR)")
    ax.set_ylabel("EX gain from SFT (points)")
    ax.set_title("AR vs EX gain (teal: SmolLM2-135M, amber: Qwen2.5-Coder-0.5B)", fontsize=9)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "ar_scatter.png", dpi=120)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--summarize", action="store_true")
    ap.add_argument("--core-only", action="store_true", help="stop after the first 11 jobs")
    args = ap.parse_args()
    if args.summarize:
        summarize()
    else:
        main(args.core_only)
