from pathlib import Path

import pytest

from alignsql.sql.template import cache_key, template, tokenize

FIXTURES = Path(__file__).parent.parent / "fixtures" / "templates.sql"


def _cases() -> list[tuple[str, str, str]]:
    """Blocks of: SQL line(s), optional '-- dialect: X', then '-- template: T'."""
    cases = []
    for block in FIXTURES.read_text().split("\n\n"):
        lines = [ln for ln in block.strip().splitlines()]
        sql = " ".join(ln for ln in lines if not ln.startswith("--"))
        expected = next((ln.split(":", 1)[1].strip() for ln in lines
                         if ln.startswith("-- template:")), None)
        dialect = next((ln.split(":", 1)[1].strip() for ln in lines
                        if ln.startswith("-- dialect:")), "sqlite")
        if sql and expected is not None:
            cases.append((sql, dialect, expected))
    return cases


@pytest.mark.parametrize("sql,dialect,expected", _cases())
def test_template_fixtures(sql: str, dialect: str, expected: str) -> None:
    t = template(sql, dialect)
    assert t.parsed
    assert str(t) == expected


def test_fixture_file_has_cases() -> None:
    assert len(_cases()) >= 20


def test_unparsable_falls_back_and_is_flagged() -> None:
    t = template("SELECT COUNT T.x FROM TABLE AS T WHERE T.y = 'a'")
    assert not t.parsed
    assert t.tokens[0] == "SELECT"


def test_untokenizable_is_flagged() -> None:
    t = template("SELECT 'unterminated")
    assert not t.parsed and t.tokens == ()


def test_cache_key_ignores_literals_and_qualified_names_only() -> None:
    a = cache_key(tokenize("SELECT T1.a FROM t AS T1 WHERE T1.b = 3"))
    b = cache_key(tokenize("SELECT T1.zz FROM t AS T1 WHERE T1.y = 42"))
    c = cache_key(tokenize("SELECT max(a) FROM t"))
    d = cache_key(tokenize("SELECT min(a) FROM t"))
    assert a == b  # same shape: literal and qualified names differ
    assert c != d  # a bare word before "(" is a function: its text matters
