import json

import pytest

from alignsql.data import registry
from alignsql.data.schema import from_ddl, from_sqlite
from alignsql.errors import AlignSQLError


def test_malformed_json_names_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"question": "q", "sql": "SELECT 1"},')
    with pytest.raises(AlignSQLError, match="bad.json: malformed JSON"):
        registry.load(f"file:{bad}")


def test_malformed_jsonl_names_file_and_record(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "sql": "SELECT 1"}\n{oops\n')
    with pytest.raises(AlignSQLError, match=r"bad.jsonl, record 2"):
        registry.load(f"file:{bad}")


def test_missing_file_and_unknown_names() -> None:
    with pytest.raises(AlignSQLError, match="not found"):
        registry.load("file:/nonexistent/x.jsonl")
    with pytest.raises(AlignSQLError, match="unknown dataset"):
        registry.load("nosuch:dev")
    with pytest.raises(AlignSQLError, match="unknown split"):
        registry.parse_spec("spider:nosplit")


def test_record_without_sql_is_counted_not_dropped_silently(tmp_path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"question": "a", "sql": "SELECT 1", "db_id": "x"}, {"question": "b", "sql": ""},
        {"question": "c", "query": "SELECT 2", "id": "c7"}]))
    ds = registry.load(f"file:{f}")
    assert len(ds) == 2 and ds.skipped["no sql"] == 1
    assert ds.examples[1].id == "c7"


def test_csv_and_gretel_columns(tmp_path) -> None:
    f = tmp_path / "g.csv"
    f.write_text('sql_prompt,sql_context,sql\n"How many?","CREATE TABLE t (a INT PRIMARY KEY);",'
                 '"SELECT COUNT(*) FROM t"\n')
    ds = registry.load(f"file:{f}")
    ex = ds.examples[0]
    assert ex.question == "How many?" and ds.schemas[ex.db_id].tables[0].primary_key == ["a"]


def test_ddl_and_sqlite_schema(tmp_path) -> None:
    import sqlite3
    db = tmp_path / "x.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT);"
                      "CREATE TABLE b (id INT, a_id INT REFERENCES a(id));"
                      "INSERT INTO a VALUES (1, 'x'), (2, 'y');")
    con.commit(); con.close()
    s = from_sqlite(db, samples=2)
    assert s.table("a").primary_key == ["id"] and s.table("a").columns[1].samples == ["x", "y"]
    assert s.foreign_keys[0].ref_table == "a"
    d = from_ddl("CREATE TABLE b (id INT, a_id INT, FOREIGN KEY (a_id) REFERENCES a (id));")
    assert d.foreign_keys[0].ref_column == "id"
    with pytest.raises(AlignSQLError, match="not found"):
        from_sqlite(tmp_path / "none.sqlite")


def test_tab_inside_plain_text_sql_is_kept(tmp_path) -> None:
    """test-suite format "SQL<TAB>db_id" is recognised for the whole file; otherwise a tab is
    whitespace inside the query, never a cut."""
    from alignsql.data.predictions import read_predictions
    f = tmp_path / "p.sql"
    f.write_text("SELECT a\tFROM t WHERE b = 'x y'\nSELECT 1\n")
    assert read_predictions(f).ordered == ["SELECT a\tFROM t WHERE b = 'x y'", "SELECT 1"]
    f.write_text("SELECT a\tFROM t\tconcert_singer\nSELECT 1\tpets_1\n")
    assert read_predictions(f).ordered == ["SELECT a\tFROM t", "SELECT 1"]
