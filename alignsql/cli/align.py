"""``alignsql align`` and ``alignsql select``."""
from __future__ import annotations

import argparse
import json
import sys

from alignsql import config
from alignsql.align.render import write
from alignsql.align.run import AlignConfig, run_align
from alignsql.align.selection import SelectConfig, run_select


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="alignment of training sets (and predictions) with a target")
    config.add_arguments(p, AlignConfig)
    p.add_argument("--out", help="write report.json, report.md, report.html and config.yaml here")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=cmd_align)
    s = sub.add_parser("select", help="pick the k pool examples best aligned with a target")
    config.add_arguments(s, SelectConfig)
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=cmd_select)


def cmd_align(args: argparse.Namespace) -> int:
    cfg = config.from_args(AlignConfig, args)
    report = run_align(cfg, progress=sys.stderr.isatty())
    if args.out:
        paths = write(report, args.out)
        config.save(cfg, f"{args.out}/config.yaml")
        if not args.json:
            print("wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        slim = {k: report[k] for k in ("pairs", "ar", "kl_scale", "config")}
        print(json.dumps(slim))
        return 0
    print(f"{'source':28} {'target':20} {'A':>6} {'KL':>7} {'OVLP':>6} {'unparsed':>8}")
    for p in report["pairs"]:
        print(f"{p['source']:28} {p['target']:20} {p['alignment']:6.3f} {p['kl']:7.3f} "
              f"{p['ovlp']:6.3f} {p['unparsed_source'] + p['unparsed_target']:8d}")
    for r in report["ar"]:
        ar = "n/a" if r["ar"] is None else f"{r['ar']:.3f}"
        verdict = "SFT predicted to help" if (r["ar"] or 0) > 1 else "SFT predicted not to help"
        print(f"AR({r['train']} vs {r['preds']} on {r['target']}) = {ar}: {verdict}")
    print(f"KL scale c = {report['kl_scale']:.4f}")
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    cfg = config.from_args(SelectConfig, args)
    summary = run_select(cfg, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"wrote {summary['n_selected']} examples to {summary['out']}")
    if summary["n_excluded"]:
        print(f"left out {summary['n_excluded']} pool examples whose question is in the target "
              f"or an --exclude set")
    print(f"A(subset, target) = {summary['a_selected']:.3f} vs A(random {summary['n_selected']} "
          f"from the pool, target) = {summary['a_random']:.3f}  (KL {summary['kl_selected']:.3f} "
          f"vs {summary['kl_random']:.3f})")
    return 0
