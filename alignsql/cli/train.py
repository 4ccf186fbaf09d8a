"""``alignsql train sft --config FILE [key=value ...] [--resume]``."""
from __future__ import annotations

import argparse
import json
import sys

from alignsql import config
from alignsql.train.config import SelfPlayConfig, SFTConfig
from alignsql.train.dist import exit_if_distributed


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("train", help="fine-tune a model")
    gsub = group.add_subparsers(dest="train_command", metavar="METHOD", required=True)
    p = gsub.add_parser("sft", help="supervised fine-tuning (LoRA or full) with TRL")
    p.add_argument("--config", required=True, help="YAML file mirroring SFTConfig "
                   "(see configs/sft/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--eval", help="target dataset evaluated before and after (sets eval=)")
    p.add_argument("--eval-limit", type=int, help="questions of the target (sets eval_limit=)")
    p.set_defaults(func=cmd_sft)
    s = gsub.add_parser("selfplay", help="self-play fine-tuning: error-driven (SPFT-SQL), SPIN "
                        "or DPO against an opponent from a model pool")
    s.add_argument("--config", required=True, help="YAML file mirroring SelfPlayConfig "
                   "(see configs/selfplay/)")
    s.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config keys")
    s.add_argument("--resume", action="store_true", help="continue a killed run")
    s.set_defaults(func=cmd_selfplay)


def cmd_sft(args: argparse.Namespace) -> int:
    from alignsql.train.sft import train

    overrides = list(args.overrides)
    if args.eval:
        overrides.append(f"eval={args.eval}")
    if args.eval_limit:
        overrides.append(f"eval_limit={args.eval_limit}")
    cfg = config.load_yaml(SFTConfig, args.config, overrides)
    summary = train(cfg, resume=args.resume, log=lambda m: print(m, file=sys.stderr, flush=True),
                    progress=sys.stderr.isatty())
    print(json.dumps(summary, indent=2))
    return exit_if_distributed(0)


def cmd_selfplay(args: argparse.Namespace) -> int:
    from alignsql.train.selfplay import train

    cfg = config.load_yaml(SelfPlayConfig, args.config, list(args.overrides))
    summary = train(cfg, resume=args.resume, log=lambda m: print(m, file=sys.stderr, flush=True),
                    progress=sys.stderr.isatty())
    for it in summary["iterations"]:
        ex = f", validation EX {it['val_ex']:.3f}" if "val_ex" in it else ""
        print(f"iteration {it['iteration']}: {it['n_pairs']} pairs, train loss "
              f"{it['train_loss']:.4f}{ex} -> {it['merged']}")
    print(json.dumps({k: summary[k] for k in ("run", "loss", "final")}))
    return exit_if_distributed(0)
