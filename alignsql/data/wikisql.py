"""WikiSQL's SQL in the text2sql-data release is not valid SQL for 28,467 of its 80,654
queries (``SELECT COUNT TABLEalias0.FLEET_SERIES_(QUANTITY)_FIELD ...``: no parentheses
around aggregates, unquoted column names with brackets and quotes). Its grammar is fixed,
though (WikiSQL has one table, one selected column with an optional aggregate, and ANDed
``column op value`` conditions), so this module reads that format and *builds* the query
with sqlglot's expression builders, giving every question a well-formed SQL (MySQL quoting:
backticks, which SQLite reads too).
"""
from __future__ import annotations

from sqlglot import exp

_AGGS = {"COUNT": exp.Count, "MAX": exp.Max, "MIN": exp.Min, "SUM": exp.Sum, "AVG": exp.Avg}
_OPS = {"=": exp.EQ, ">": exp.GT, "<": exp.LT}


def _column(word: str) -> exp.Column:
    name = word.split(".", 1)[1] if word.startswith("TABLEalias0.") else word
    name = name.removesuffix("_FIELD")
    return exp.Column(this=exp.to_identifier(name, quoted=True))


def _value(word: str) -> exp.Expression:
    """A quoted placeholder stays a string; a bare one stays a bare word, for
    ``variables.substitute`` to fill with a number or a string per sentence."""
    if len(word) >= 2 and word[0] == word[-1] == '"':
        return exp.Literal.string(word[1:-1])
    return exp.Column(this=exp.to_identifier(word))


def build(sql: str) -> str | None:
    """The WikiSQL query as valid SQLite with its placeholders kept (fill them with
    ``variables.substitute``), or None when ``sql`` is not in the WikiSQL grammar."""
    words = [w for w in sql.split() if w != ";"]  # the format's words, not SQL tokens
    if len(words) < 4 or words[0] != "SELECT":
        return None
    pos = 1
    agg = _AGGS.get(words[pos])
    pos += agg is not None
    selected: exp.Expression = _column(words[pos])
    if agg is not None:
        selected = agg(this=selected)
    pos += 1
    if words[pos:pos + 2] not in (["FROM", "TABLE"], ["FROM", "table"]):
        return None
    pos += 2
    if words[pos:pos + 1] == ["AS"]:
        pos += 2
    # copy=False throughout: the builders deep-copy by default, which tripled the load time.
    query = exp.Select(expressions=[selected]).from_(
        exp.Table(this=exp.to_identifier("table", quoted=True)), copy=False)
    if pos == len(words):
        return query.sql("mysql", copy=False)
    if words[pos] != "WHERE":
        return None
    conds = words[pos + 1:]
    if len(conds) % 4 != 3:
        return None
    for i in range(0, len(conds), 4):
        col, op, val = conds[i:i + 3]
        if op not in _OPS or (i + 3 < len(conds) and conds[i + 3] != "AND"):
            return None
        query = query.where(_OPS[op](this=_column(col), expression=_value(val)), copy=False)
    return query.sql("mysql", copy=False)
