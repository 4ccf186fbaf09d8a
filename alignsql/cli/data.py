"""``alignsql data list``: the datasets found under the data root, with counts."""
from __future__ import annotations

import argparse
import json

from alignsql.data import registry


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("data", help="datasets under the data root")
    gsub = group.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    p = gsub.add_parser("list", help="list datasets and their example counts")
    p.add_argument("--data-root", help="data folder (default: $ALIGNSQL_DATA or ../shared/data)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for name, info in registry.available(args.data_root):
        for split in info.splits:
            if split.isdigit():
                continue  # folds of the 10-fold sets are listed as :all only
            ds = registry.load(f"{name}:{split}", args.data_root)
            dbs = sum(1 for d in {e.db_id for e in ds.examples} if ds.db_path(d))
            rows.append({"spec": f"{name}:{split}", "examples": len(ds), "databases": dbs,
                         "skipped": dict(ds.skipped), "about": info.about})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'dataset':24} {'examples':>9} {'with db':>8}  about")
    for r in rows:
        skipped = f" (skipped: {r['skipped']})" if r["skipped"] else ""
        print(f"{r['spec']:24} {r['examples']:>9} {r['databases']:>8}  {r['about']}{skipped}")
    return 0
