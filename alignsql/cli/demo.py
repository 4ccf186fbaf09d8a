"""``alignsql demo``: the main job on the embedded default, end to end.

1. the alignment matrix of real training sets and targets;
2. the default model (prepared from its PyPI packages) answers a seeded sample of Spider dev;
3. its predictions are scored by execution;
4. the Alignment Ratio of each training set against the model's own predictions on that sample.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from alignsql import config
from alignsql.align.render import write
from alignsql.align.run import AlignConfig, run_align
from alignsql.data import registry
from alignsql.eval.run import EvalConfig, run_eval
from alignsql.models.predict import PredictConfig, choose_examples, run_predict
from alignsql.errors import AlignSQLError
from alignsql.models.registry import DEFAULT_MODEL

DEMO_TRAIN = ["spider:train", "bird:train", "wikisql:train", "atis:train", "advising:train"]
DEMO_TARGET = ["spider:dev", "bird:dev", "geoquery:all"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="alignment, prediction, evaluation and AR on real data")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model (default: {DEFAULT_MODEL})")
    p.add_argument("--sample", type=int, default=32, help="Spider dev questions to answer")
    p.add_argument("--data-root", help="data folder (default: $ALIGNSQL_DATA or ../shared/data)")
    p.set_defaults(func=cmd_demo)


def _step(i: int, text: str) -> None:
    print(f"[{i}/4] {text}", file=sys.stderr, flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.sample < 1:
        raise AlignSQLError(f"--sample must be at least 1, not {args.sample}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after step 1
    progress = sys.stderr.isatty()
    _step(1, f"alignment of {len(DEMO_TRAIN)} training sets with {len(DEMO_TARGET)} targets")
    cfg = AlignConfig(train=DEMO_TRAIN, target=DEMO_TARGET, data_root=args.data_root)
    matrix = run_align(cfg, progress=progress)
    write(matrix, out / "align")
    config.save(cfg, out / "align" / "config.yaml")

    _step(2, f"{args.model} answers {args.sample} Spider dev questions (seeded sample)")
    pcfg = PredictConfig(model=args.model, dataset="spider:dev", sample=args.sample, with_db=True,
                         out=str(out / "preds.jsonl"), data_root=args.data_root)
    stats = run_predict(pcfg, progress=progress, log=lambda m: print(m, file=sys.stderr))

    _step(3, "execution accuracy of those predictions")
    ecfg = EvalConfig(dataset="spider:dev", preds=pcfg.out, only_predicted=True,
                      out=str(out / "eval"), data_root=args.data_root)
    _, summary = run_eval(ecfg, progress=progress)

    _step(4, "Alignment Ratio: training sets vs the model's own predictions on the sample")
    target = _gold_of_sample(pcfg, out / "target_sample.jsonl")
    acfg = AlignConfig(train=DEMO_TRAIN, target=[f"file:{target}"], preds=[pcfg.out],
                       bootstrap=[], data_root=args.data_root)
    ar = run_align(acfg, progress=progress)
    write(ar, out / "ar")
    config.save(acfg, out / "ar" / "config.yaml")
    _print(matrix, stats, summary, ar, out)
    return 0


def _gold_of_sample(pcfg: PredictConfig, path: Path) -> Path:
    """The gold SQL of exactly the questions the model answered: the AR target."""
    ds = registry.load(pcfg.dataset, pcfg.data_root)
    with open(path, "w") as fh:
        for ex in choose_examples(ds, pcfg):
            fh.write(json.dumps(asdict(ex)) + "\n")
    return path


def _print(matrix: dict, stats: dict, summary, ar: dict, out: Path) -> None:
    a = {(p["source"], p["target"]): p["alignment"] for p in matrix["pairs"]}
    print("KL-alignment A(train, target):")
    print(f"  {'train':16} " + " ".join(f"{t:>14}" for t in DEMO_TARGET))
    for s in DEMO_TRAIN:
        print(f"  {s:16} " + " ".join(f"{a[(s, t)]:14.3f}" for t in DEMO_TARGET))
    print(f"{stats['model']}: {stats['answered']} answered ({stats['qps']:.2f} queries/s); "
          f"EX {summary.ex:.3f} on {summary.n_scored} scored, valid SQL {summary.valid:.3f}")
    print("Alignment Ratio on that sample (AR > 1: fine-tuning on the set is predicted to help):")
    for r in ar["ar"]:
        print(f"  {r['train']:16} AR {r['ar']:.3f}  (A train {r['a_train']:.3f}, "
              f"A predictions {r['a_preds']:.3f})")
    print(f"reports: {out / 'align' / 'report.html'}, {out / 'eval' / 'report.html'}, "
          f"{out / 'ar' / 'report.html'}")
