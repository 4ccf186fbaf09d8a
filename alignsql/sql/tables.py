"""Tables a query uses, and renaming them, on the sqlglot AST (CTE names are not tables)."""
from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError


def parse(sql: str, dialect: str = "sqlite") -> exp.Expression | None:
    try:
        return sqlglot.parse_one(sql, read=dialect)
    except (ParseError, TokenError):
        return None


def used_tables(sql: str, dialect: str = "sqlite") -> set[str] | None:
    """Lower-cased names of the base tables a query reads; None when it does not parse."""
    tree = parse(sql, dialect)
    if tree is None:
        return None
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    return {t.name.lower() for t in tree.find_all(exp.Table)
            if t.name and t.name.lower() not in ctes}


def rename_tables(sql: str, mapping: dict[str, str], dialect: str = "sqlite") -> str | None:
    """The query with base tables renamed (keys lower-case); aliases keep qualified columns
    working. Works on a copy of the tree; None when the query does not parse."""
    tree = parse(sql, dialect)
    if tree is None:
        return None
    tree = tree.copy()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        new = mapping.get(table.name.lower())
        if new is None or new == table.name or table.name.lower() in ctes:
            continue
        old = table.name
        table.set("this", exp.to_identifier(new, quoted=True))
        if not table.alias:  # "singer.name" must still resolve after the rename
            table.set("alias", exp.TableAlias(this=exp.to_identifier(old, quoted=True)))
    return tree.sql(dialect)
