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
    config.add_arguments(p, EvalConfig, bare={"ray": "local"})
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_eval)


def cmd_compare(cfg: EvalConfig, as_json: bool) -> int:
    from pathlib import Path

    from alignsql.eval import paired
    result = paired.compare(cfg)
    if cfg.out:
        paired.write(result, Path(cfg.out))
        config.save(cfg, Path(cfg.out) / "config.yaml")
    if as_json:
        print(json.dumps({k: v for k, v in result.items() if not k.endswith("_wrong")}))
        return 0
    lo, hi = result["ci"]
    print(f"A {result['a']}: EX {result['ex_a']:.4f}   B {result['b']}: EX {result['ex_b']:.4f}"
          f"   on {result['n']} questions scored in both")
    print(f"B - A = {result['diff']:+.4f}  95% paired bootstrap CI [{lo:+.4f}, {hi:+.4f}]  "
          f"exact McNemar p = {result['p_value']:.4g}  (A only right {result['a_only']}, "
          f"B only right {result['b_only']})")
    for level, v in result["by_hardness"].items():
        print(f"  {level:8} n={v['n']:5d}  A {v['ex_a']:.4f}  B {v['ex_b']:.4f}")
    if cfg.out:
        print(f"wrote {cfg.out}/compare.json, compare.md, compare.html")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    cfg = config.from_args(EvalConfig, args)
    if cfg.compare:
        return cmd_compare(cfg, args.json)
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
