"""``alignsql lrsql run --config FILE [key=value ...] [--resume]`` and
``alignsql lrsql baseline --config FILE [--model M] [key=value ...]``."""
from __future__ import annotations

import argparse
import json
import sys

from alignsql import config
from alignsql.lrsql.config import LRSQLConfig


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("lrsql", help="LR-SQL: schema linking over slices + SQL generation")
    gsub = group.add_subparsers(dest="lrsql_command", metavar="ACTION", required=True)
    p = gsub.add_parser("run", help="merge, slice, train both models, predict and evaluate")
    p.add_argument("--config", required=True, help="YAML mirroring LRSQLConfig (configs/lrsql/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.set_defaults(func=cmd_run)
    b = gsub.add_parser("baseline", help="one model, no training: sliced walk vs full schema "
                                         "(table metrics and EX on the run's test questions)")
    b.add_argument("--config", required=True, help="YAML mirroring LRSQLConfig (configs/lrsql/)")
    b.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    b.add_argument("--model", help="model to compare with (default: the config's base model)")
    b.set_defaults(func=cmd_baseline)


def cmd_run(args: argparse.Namespace) -> int:
    from alignsql.lrsql.run import run

    cfg = config.load_yaml(LRSQLConfig, args.config, args.overrides)
    result = run(cfg, resume=args.resume, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2))
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from alignsql.lrsql.run import baseline

    cfg = config.load_yaml(LRSQLConfig, args.config, args.overrides)
    result = baseline(cfg, args.model, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2))
    return 0
