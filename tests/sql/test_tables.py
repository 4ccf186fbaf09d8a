from alignsql.sql.tables import rename_tables, used_tables


def test_used_tables_skip_ctes_and_see_subqueries() -> None:
    sql = ("WITH x AS (SELECT id FROM singer) SELECT T1.name FROM concert AS T1 "
           "WHERE T1.id IN (SELECT id FROM x) AND T1.s IN (SELECT s FROM Stadium)")
    assert used_tables(sql) == {"singer", "concert", "stadium"}
    assert used_tables("SELECT a FROM (t") is None


def test_rename_keeps_qualified_columns_working() -> None:
    out = rename_tables("SELECT singer.name FROM singer WHERE singer.age > 3",
                        {"singer": "cs__singer"})
    assert out == 'SELECT singer.name FROM "cs__singer" AS "singer" WHERE singer.age > 3'
    out = rename_tables("SELECT T1.a FROM singer AS T1", {"singer": "cs__singer"})
    assert out == 'SELECT T1.a FROM "cs__singer" AS T1'
