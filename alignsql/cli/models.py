"""``alignsql models list|prepare`` and ``alignsql predict``."""
from __future__ import annotations

import argparse
import json
import sys

from alignsql import config
from alignsql.models.export import ExportConfig, export_gguf
from alignsql.models.gguf import convert, model_dir, part_paths
from alignsql.models.predict import PredictConfig, run_predict
from alignsql.models.registry import MODELS
from alignsql.errors import AlignSQLError


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("models", help="the registry models")
    gsub = group.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    gsub.add_parser("list", help="name, source, size, cached or not").set_defaults(func=cmd_list)
    p = gsub.add_parser("prepare", help="assemble, verify and convert a model ahead of time")
    p.add_argument("name", help=f"one of: {', '.join(MODELS)}")
    p.set_defaults(func=cmd_prepare)
    ex = gsub.add_parser("export", help="a run's merged model (or any model) as one GGUF file "
                                        "for llama.cpp and Ollama")
    ex.add_argument("source", help="a run directory, a model directory or a registry name")
    config.add_arguments(ex, ExportConfig)
    ex.set_defaults(func=cmd_export)
    pr = sub.add_parser("predict", help="answer a dataset's questions with a model")
    config.add_arguments(pr, PredictConfig, bare={"ray": "local"})
    pr.add_argument("--json", action="store_true", help="print the summary as JSON")
    pr.set_defaults(func=cmd_predict)


def _gguf_mb(name: str) -> float | None:
    """Size of the GGUF the packages hold, or None when they are not installed."""
    try:
        return sum(p.stat().st_size for p in part_paths(MODELS[name])) / 2**20
    except AlignSQLError:
        return None


def cmd_list(args: argparse.Namespace) -> int:
    print(f"{'name':22} {'GGUF MB':>8} {'installed':>9} {'cached':>7}  source")
    for name, spec in MODELS.items():
        cached = (model_dir(name) / "hf" / "config.json").exists()
        mb = _gguf_mb(name)
        size = f"{mb:.0f}" if mb is not None else "-"
        print(f"{name:22} {size:>8} {'yes' if mb is not None else 'no':>9} "
              f"{'yes' if cached else 'no':>7}  {spec.about}")
    print("Any Hugging Face model id or local model directory works too (--model).")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    if args.name not in MODELS:
        raise AlignSQLError(f"unknown model {args.name!r}: one of {', '.join(MODELS)}")
    path = convert(MODELS[args.name], lambda m: print(m, file=sys.stderr))
    print(f"{args.name} ready at {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    cfg = config.from_args(ExportConfig, args)
    info = export_gguf(args.source, cfg, lambda m: print(m, file=sys.stderr))
    print(f"wrote {info['out']}: {info['tensors']} tensors, {info['bytes'] / 2**20:.1f} MB "
          f"({info['architecture']}, {info['quant']}, pre-tokenizer {info['pre_tokenizer']})")
    print(f"llama.cpp: llama-server -m {info['out']} ; the prompt layout is in its "
          f"alignsql.prompt metadata")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    cfg = config.from_args(PredictConfig, args)
    stats = run_predict(cfg, progress=sys.stderr.isatty(), log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(stats))
        return 0
    print(f"answered {stats['answered']} of {stats['n']} ({stats['resumed']} resumed) in "
          f"{stats['seconds']:.1f}s: {stats['qps']:.2f} queries/s, "
          f"{stats['tokens_per_s']:.1f} generated tokens/s on {stats['device']} ({stats['dtype']})")
    if stats["empty"] or stats["over_budget"]:
        print(f"no SQL in {stats['empty']} replies; {stats['over_budget']} prompts over budget")
    if stats.get("dropped_broken_lines"):
        print(f"dropped {stats['dropped_broken_lines']} broken line(s) of an interrupted run "
              f"from {stats['out']} (those questions were answered again)")
    print(f"wrote {stats['out']}")
    return 0
