"""``alignsql adapt``: your database (and workload) to a fine-tuned model with the proof."""
from __future__ import annotations

import argparse
import json
import sys

from alignsql import config
from alignsql.adapt.run import AdaptConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapt", help="adapt a model to your SQLite database: select, "
                                     "synthesize, fine-tune, evaluate, report (resumable)")
    config.add_arguments(p, AdaptConfig)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    from alignsql.adapt.run import adapt
    cfg = config.from_args(AdaptConfig, args)
    summary = adapt(cfg, log=lambda m: print(f"adapt: {m}", file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(summary))
        return 0
    if summary["n"]:
        lo, hi = summary["ci"]
        what = "synthetic held-out pairs (not a real test)" if summary["test_is_synthetic"] \
            else "your test pairs"
        print(f"EX on {summary['n']} {what}: untuned {summary['ex_untuned']:.3f} -> tuned "
              f"{summary['ex_tuned']:.3f} ({summary['diff']:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}],"
              f" McNemar p = {summary['p_value']:.3g})")
    print(f"tuned model: {summary['tuned_model']}")
    print(f"report: {summary['report']}")
    print(f"ask it: alignsql serve --model {summary['tuned_model']} --db {summary['db']}")
    return 0
