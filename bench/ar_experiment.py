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
                                                  # (bench/ar_summary.py)
"""
from __future__ import annotations

import argparse
import json
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
        from ar_summary import summarize
        summarize()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--summarize", action="store_true")
    ap.add_argument("--plot", action="store_true", help="redraw docs/ar_scatter.png from the JSON")
    ap.add_argument("--core-only", action="store_true",
                    help="SmolLM2's first 9 jobs (four training sets on both targets, a seed)")
    ap.add_argument("--model", choices=list(MODELS), help="only this model's jobs")
    args = ap.parse_args()
    if args.plot or args.summarize:  # bench/ar_summary.py; it imports this module's settings
        from ar_summary import plot_from_results, summarize
        (plot_from_results if args.plot else summarize)()
    else:
        main(args.core_only, args.model)
