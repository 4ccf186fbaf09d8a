"""Variable substitution for the text2sql-data family (ATIS, GeoQuery, WikiSQL, ...).

Their SQL holds placeholders (``"state_name0"``, ``year0``) that a sentence's variables fill.
Only literal tokens are touched, located by sqlglot's tokenizer (never a text replace on the
SQL): a string literal equal to (or containing) a placeholder, or a bare word equal to one.
A full AST round trip would be exact too, but costs ~10x more over WikiSQL's 80k questions;
token splicing is exact for literals, which are all that change here.
"""
from __future__ import annotations

from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

_TOKENIZER = MySQL().tokenizer()  # the family's SQL is MySQL-flavoured: "..." are strings


def _string(value: str) -> str:
    """A SQL string literal (what sqlglot renders for ``exp.Literal.string``, without the
    AST round trip: this runs once per WikiSQL question)."""
    return "'" + value.replace("'", "''") + "'"


def _value(value: str) -> str:
    try:
        float(value)
        return value
    except ValueError:
        return _string(value)


def substitute(sql: str, variables: dict[str, str]) -> str:
    """Fill placeholders; every string literal is re-rendered single-quoted (dialect-neutral)."""
    try:
        tokens = _TOKENIZER.tokenize(sql)
    except TokenError:
        return sql.strip().rstrip(";").strip()
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    parts: list[str] = []
    pos = 0
    for tok in tokens:
        new = None
        if tok.token_type == TokenType.STRING:
            text = tok.text
            for var in sorted(variables, key=len, reverse=True):
                text = text.replace(var, variables[var])  # inside one literal's value only
            new = _string(text)
        elif tok.token_type == TokenType.VAR and tok.text in variables:
            new = _value(variables[tok.text])
        if new is not None:
            parts.append(sql[pos:tok.start])
            parts.append(new)
            pos = tok.end + 1
    end = tokens[-1].end + 1 if tokens else 0
    parts.append(sql[pos:end])
    return "".join(parts).strip()
