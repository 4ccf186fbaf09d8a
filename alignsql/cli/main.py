"""The ``alignsql`` command: parse, call the library, print. One module per command group."""
from __future__ import annotations

import argparse
import sys

from alignsql.errors import AlignSQLError


def build_parser() -> argparse.ArgumentParser:
    from alignsql.cli import (
        adapt,
        align,
        data,
        demo,
        evaluate,
        lrsql,
        models,
        serve,
        synth,
        template,
        train,
    )

    parser = argparse.ArgumentParser(
        prog="alignsql", description="Measure dataset alignment, adapt LLMs to text-to-SQL, "
                                     "and evaluate by execution.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (data, template, align, models, synth, train, lrsql, evaluate, adapt, serve,
                   demo):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AlignSQLError as exc:
        print(f"alignsql: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave cannot be read or written
        if exc.filename is None:
            raise
        print(f"alignsql: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alignsql: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
