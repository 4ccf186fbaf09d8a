"""``alignsql synth``: verified synthetic (question, SQL) pairs on a database, in rounds."""
from __future__ import annotations

import argparse
import json
import sys

from alignsql import config
from alignsql.synth.config import SynthConfig
from alignsql.synth.run import run_synth


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesize verified (question, SQL) pairs on a database")
    p.add_argument("--config", help="YAML file mirroring SynthConfig (options given here win)")
    config.add_arguments(p, SynthConfig, bare={"ray": "local"})
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    cli = config.from_args(SynthConfig, args)
    if args.config:
        given = {k: v for k, v in vars(args).items() if k in config.to_dict(cli)}
        cli = config.from_dict(SynthConfig, {**config.to_dict(
            config.load_yaml(SynthConfig, args.config)), **given}, source=args.config)
    summary = run_synth(cli, log=lambda m: print(m, file=sys.stderr, flush=True),
                        progress=True)
    if args.json:
        print(json.dumps(summary))
        return 0
    for r in summary["rounds"]:
        acc = r["filters"]["acceptance"]
        line = (f"round {r['round']}: {r['pairs']} pairs from {r['verified_sql']} verified "
                f"queries ({r['filters']['attempts']} candidates; round trip kept "
                f"{r['round_trip_pass']:.0%}); filter pass rates "
                + ", ".join(f"{k} {v:.0%}" for k, v in acc.items()))
        if "val_ex" in r:
            line += f"; synthetic-validation EX {r['val_ex']:.3f}"
        print(line)
    print(f"wrote {cli.out}/round<r>.jsonl (load with --dataset file:{cli.out}/round1.jsonl)")
    return 0
