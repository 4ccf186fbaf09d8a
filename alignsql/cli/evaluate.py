"""``alignsql eval``: execution accuracy of predictions on a dataset."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from alignsql import config
from alignsql.eval.run import EvalConfig, run_eval


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="execution accuracy (EX) of predictions")
    config.add_arguments(p, EvalConfig)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    cfg = config.from_args(EvalConfig, args)
    _, summary = run_eval(cfg, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(asdict(summary)))
        return 0
    print(f"EX {summary.ex:.4f} on {summary.n_scored} scored of {summary.n} examples "
          f"(valid SQL {summary.valid:.4f}, template match {summary.template_match:.4f})")
    for level, v in summary.by_hardness.items():
        print(f"  {level:12} n={v['n']:5d}  EX {v['ex']:.4f}")
    for level, v in summary.by_difficulty.items():
        print(f"  {level:12} n={v['n']:5d}  EX {v['ex']:.4f}")
    if summary.ves is not None:
        print(f"VES {summary.ves:.4f}")
    if summary.errors:
        print("errors and skips: " + ", ".join(f"{k}={v}" for k, v in summary.errors.items()))
    if cfg.out:
        print(f"wrote {cfg.out}/results.jsonl, summary.json, report.md, report.html")
    return 0
