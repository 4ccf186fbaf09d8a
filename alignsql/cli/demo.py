"""``alignsql demo``: the main job on the embedded default, end to end."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alignsql import config
from alignsql.align.render import write
from alignsql.align.run import AlignConfig, run_align

DEMO_TRAIN = ["spider:train", "bird:train", "wikisql:train", "atis:train", "advising:train"]
DEMO_TARGET = ["spider:dev", "bird:dev", "geoquery:all"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="alignment report of the real datasets (make demo)")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--data-root", help="data folder (default: $ALIGNSQL_DATA or ../shared/data)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    cfg = AlignConfig(train=DEMO_TRAIN, target=DEMO_TARGET, data_root=args.data_root)
    print(f"[1/1] alignment of {len(DEMO_TRAIN)} training sets with {len(DEMO_TARGET)} targets",
          file=sys.stderr)
    report = run_align(cfg, progress=sys.stderr.isatty())
    paths = write(report, out / "align")
    config.save(cfg, out / "align" / "config.yaml")
    print(f"{'train':16} " + " ".join(f"{t:>14}" for t in DEMO_TARGET))
    a = {(p["source"], p["target"]): p["alignment"] for p in report["pairs"]}
    for s in DEMO_TRAIN:
        print(f"{s:16} " + " ".join(f"{a[(s, t)]:14.3f}" for t in DEMO_TARGET))
    print(f"report: {paths[2]}")
    return 0
