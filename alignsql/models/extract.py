"""Getting the SQL out of a model's reply: code fences, trailing chatter, several statements."""
from __future__ import annotations

import sqlglot
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES}


def _fenced(text: str) -> str:
    """The body of the first code fence; an unclosed fence runs to the end."""
    if "```" not in text:
        return text
    before, _, rest = text.partition("```")
    if not before.strip() and rest.lower().startswith("sql"):
        rest = rest[3:]
    elif before.strip() and not rest.strip():
        return before
    first_line, _, body = rest.partition("\n")
    if first_line.strip() and first_line.strip().lower() not in ("sql", "sqlite"):
        body = rest  # no language tag: the fence body starts right away
    return body.partition("```")[0]


def _first_statement(text: str, dialect: str) -> str:
    """From the first SELECT/WITH token to the first top-level semicolon."""
    try:
        tokens = sqlglot.tokenize(text, read=dialect)
    except TokenError:
        return text.strip()
    start = next((t.start for t in tokens if t.token_type in _STARTS), None)
    if start is None:
        return ""  # no query in the reply: recorded as an empty prediction
    end = next((t.start for t in tokens if t.token_type == TokenType.SEMICOLON and t.start > start),
               len(text))
    return text[start:end].strip()


def _parses(sql: str, dialect: str) -> bool:
    try:
        return sqlglot.parse_one(sql, read=dialect) is not None
    except (ParseError, TokenError):
        return False


def extract_sql(reply: str, dialect: str = "sqlite", prefilled_fence: bool = True) -> str:
    """The query in a reply ('' when there is none). With ``prefilled_fence`` the reply continues
    an opened ```sql fence, so it is the SQL up to the closing fence. Trailing prose is cut line by
    line from the end until what is left parses."""
    text = reply.partition("```")[0] if prefilled_fence and "```" in reply else reply
    if not prefilled_fence or not text.strip():
        text = _fenced(reply)
    sql = _first_statement(text, dialect)
    if not sql or _parses(sql, dialect):
        return sql
    lines = sql.splitlines()
    for cut in range(len(lines) - 1, 0, -1):
        candidate = "\n".join(lines[:cut]).strip()
        if _parses(candidate, dialect):
            return candidate
    return sql
