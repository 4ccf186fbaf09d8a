import pytest

from alignsql.models.extract import extract_sql

F = "`" * 3


@pytest.mark.parametrize("reply,prefilled,expected", [
    ("SELECT a FROM t\n" + F, True, "SELECT a FROM t"),
    ("SELECT a FROM t;\n" + F + "\nThis selects a.", True, "SELECT a FROM t"),
    ("SELECT a FROM t; DROP TABLE t", True, "SELECT a FROM t"),
    ("select a\nfrom t\nwhere b > 2\nThis returns the rows.", True, "select a\nfrom t\nwhere b > 2"),
    ("Here it is:\n" + F + "sql\nSELECT a FROM t WHERE b = 1;\n" + F + "\nDone.", False,
     "SELECT a FROM t WHERE b = 1"),
    (F + "\nWITH x AS (SELECT 1) SELECT * FROM x\n" + F, False, "WITH x AS (SELECT 1) SELECT * FROM x"),
    ("SELECT a FROM t WHERE b = ';'", True, "SELECT a FROM t WHERE b = ';'"),
    ("I cannot answer that.", True, ""),
    ("", True, ""),
])
def test_extraction(reply: str, prefilled: bool, expected: str) -> None:
    assert extract_sql(reply, prefilled_fence=prefilled) == expected
