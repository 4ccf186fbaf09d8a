"""Structural templates: a query with its tables, columns, aliases and literals removed.

``SELECT T2.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.sid WHERE T1.age > 20``
becomes ``SELECT FROM JOIN ON = WHERE >``: keywords, functions, operators and parentheses, in
the order written. This is the unit of the dataset-alignment measure ("Do LLMs Align with My
Task? Evaluating Text-to-SQL via Dataset Alignment", 2025).

The sqlglot AST decides what is a name: every ``exp.Identifier`` (table, column, alias, CTE
name) records where its token starts, and those tokens are removed along with literal tokens,
the dots that qualify names and the ``AS`` that introduces an alias. The tree is only read,
never transformed, so there is nothing to copy. A query sqlglot cannot parse falls back to a
template from its tokens alone, flagged ``parsed=False`` so callers count it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

LITERAL_TOKENS = frozenset({TokenType.STRING, TokenType.NUMBER, TokenType.NATIONAL_STRING,
                            TokenType.HEX_STRING, TokenType.BIT_STRING, TokenType.BYTE_STRING,
                            TokenType.RAW_STRING})
NAME_TOKENS = frozenset({TokenType.VAR, TokenType.IDENTIFIER})
_VALUE_NODES = (exp.Literal, exp.Placeholder, exp.Parameter)


@dataclass(frozen=True, slots=True)
class Template:
    tokens: tuple[str, ...]
    parsed: bool
    """False when sqlglot could not parse the query and the tokenizer fallback was used."""

    def __str__(self) -> str:
        return " ".join(self.tokens)


@lru_cache(maxsize=None)
def dialect(name: str) -> Dialect:
    return Dialect.get_or_raise(name or None)


def check_dialect(name: str) -> None:
    """A one-line error for a dialect sqlglot does not know."""
    from alignsql.errors import AlignSQLError
    try:
        dialect(name)
    except ValueError:
        raise AlignSQLError(f"unknown SQL dialect {name!r} (--dialect): use sqlite, postgres, "
                            "mysql, tsql, bigquery, snowflake or another sqlglot "
                            "dialect") from None


@lru_cache(maxsize=None)
def _tokenizer(name: str):
    return dialect(name).tokenizer()  # reused: building one per call costs as much as tokenizing


def tokenize(sql: str, dialect_name: str = "sqlite") -> list[Token]:
    return _tokenizer(dialect_name).tokenize(sql)


def parse_tokens(sql: str, tokens: list[Token],
                 dialect_name: str = "sqlite") -> exp.Expression | None:
    """The first statement's tree, or None when sqlglot cannot parse it: a parse error, or
    sqlglot's ``Command`` fallback (e.g. T-SQL ``DECLARE``), which keeps the raw text as one
    opaque node instead of a tree (its names would stay in the template)."""
    try:
        trees = dialect(dialect_name).parser().parse(tokens, sql)
    except (ParseError, TokenError, RecursionError):
        return None
    tree = next((t for t in trees if t is not None), None)
    return None if isinstance(tree, exp.Command) else tree


def name_starts(tree: exp.Expression) -> set[int]:
    """Source offsets of every name and value the tree holds."""
    starts = set()
    for node in tree.walk():
        if isinstance(node, exp.Identifier) or isinstance(node, _VALUE_NODES):
            start = node.meta.get("start") if node._meta else None
            if start is not None:
                starts.add(start)
    return starts


def _strip(tokens: list[Token], is_name) -> tuple[str, ...]:
    """Drop names, literals, qualifying dots and ``AS name``; upper-case the rest."""
    out: list[str] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        tt = tok.token_type
        if tt == TokenType.SEMICOLON:
            break  # first statement only
        if tt in LITERAL_TOKENS or is_name(i):
            continue
        if tt == TokenType.DOT and 0 < i < n - 1 and is_name(i - 1) and is_name(i + 1):
            continue
        if tt == TokenType.ALIAS and i + 1 < n and is_name(i + 1):
            continue
        out.append(tok.text.upper())
    return tuple(out)


def from_tree(tree: exp.Expression, tokens: list[Token]) -> tuple[str, ...]:
    starts = name_starts(tree)
    return _strip(tokens, lambda i: tokens[i].start in starts)


def fallback_tokens(tokens: list[Token]) -> tuple[str, ...]:
    """When parsing fails: a bare word is a name unless a ``(`` follows (a function call)."""
    n = len(tokens)

    def is_name(i: int) -> bool:
        return tokens[i].token_type in NAME_TOKENS and not (
            i + 1 < n and tokens[i + 1].token_type == TokenType.L_PAREN)
    return _strip(tokens, is_name)


def template_from_tokens(sql: str, tokens: list[Token], dialect_name: str = "sqlite") -> Template:
    """Parse already-made tokens (saves a second tokenization) and template the first statement."""
    tree = parse_tokens(sql, tokens, dialect_name)
    if tree is None:
        return Template(fallback_tokens(tokens), parsed=False)
    return Template(from_tree(tree, tokens), parsed=True)


def template(sql: str, dialect_name: str = "sqlite") -> Template:
    """The structural template of one query (see the module docstring)."""
    try:
        tokens = tokenize(sql, dialect_name)
    except TokenError:
        return Template((), parsed=False)
    return template_from_tokens(sql, tokens, dialect_name)


def cache_key(tokens: list[Token]) -> str:
    """Key under which two queries are sure to share a template.

    Literal text and the names on either side of a qualifying dot (``T1.age``) cannot change
    how sqlglot parses a query, and the template removes them; every other token is kept
    verbatim (a bare word may be a function or soft keyword, so its text matters).
    """
    parts: list[str] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        tt = tok.token_type
        if tt in LITERAL_TOKENS:
            parts.append(tt.name)
        elif tt in NAME_TOKENS and (
                (i + 1 < n and tokens[i + 1].token_type == TokenType.DOT)
                or (i > 0 and tokens[i - 1].token_type == TokenType.DOT)):
            parts.append("N")
        else:
            parts.append(tt.name + ":" + tok.text)
    return "\x1f".join(parts)
