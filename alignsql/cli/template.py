"""``alignsql template "SQL"``: print a query's structural template."""
from __future__ import annotations

import argparse
import sys

from alignsql.errors import AlignSQLError
from alignsql.sql.template import check_dialect, template


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("template", help="print the structural template of a SQL query")
    p.add_argument("sql", nargs="?", help="the query (default: read from stdin)")
    p.add_argument("--dialect", default="sqlite", help="sqlglot dialect (default: sqlite)")
    p.set_defaults(func=cmd_template)


def cmd_template(args: argparse.Namespace) -> int:
    sql = args.sql if args.sql is not None else sys.stdin.read()
    if not sql.strip():
        raise AlignSQLError("no SQL given (an argument, or text on standard input)")
    check_dialect(args.dialect)
    t = template(sql, args.dialect)
    print(str(t))
    if not t.parsed:
        print("alignsql: note: sqlglot could not parse this query; template from tokens",
              file=sys.stderr)
    return 0
