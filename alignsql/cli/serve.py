"""``alignsql serve``: an HTTP API and a web page to ask a model about your databases."""
from __future__ import annotations

import argparse
import sys

from alignsql import config
from alignsql.errors import AlignSQLError
from alignsql.serve.asker import ServeConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="answer questions about SQLite databases over HTTP "
                                     "(POST /v1/ask) and a web page (GET /)")
    config.add_arguments(p, ServeConfig)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = config.from_args(ServeConfig, args)
    try:
        import uvicorn

        from alignsql.serve.app import create_app
    except ImportError as exc:
        raise AlignSQLError(f"serve needs the web extra ({exc.name} is missing): "
                            f"pip install 'alignsql[serve]'") from None
    from alignsql.serve.asker import Asker, database_map
    database_map(cfg.db)  # a wrong --db fails before the model loads
    print(f"loading {cfg.model} ...", file=sys.stderr)
    asker = Asker(cfg)
    print(f"answering about {', '.join(sorted(asker.dbs))} on http://{cfg.host}:{cfg.port}/",
          file=sys.stderr)
    try:
        uvicorn.run(create_app(asker), host=cfg.host, port=cfg.port, log_level="warning")
    finally:
        asker.close()
    return 0
