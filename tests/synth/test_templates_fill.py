import random
import sqlite3

import pytest

from alignsql.data.schema import from_sqlite
from alignsql.eval.executor import execute
from alignsql.sql.template import template
from alignsql.synth.fill import FillError, fill
from alignsql.synth.templates import extract

SOURCE = [
    "SELECT count(*) FROM singer",
    "SELECT name FROM singer WHERE age > 20 ORDER BY age DESC LIMIT 3",
    "SELECT T2.name FROM concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id "
    "WHERE T1.year = 2014",
    "SELECT country, count(*) FROM singer GROUP BY country HAVING count(*) > 1",
    "SELECT name FROM singer WHERE singer_id NOT IN (SELECT singer_id FROM concert)",
]

def test_extraction_types_roles_values_and_joins(db) -> None:
    schema = from_sqlite(db)
    tt = extract(SOURCE[2], schema)
    assert tt.tables == ["concert", "singer"]
    roles = {(c.table, c.name): c.role for c in tt.columns}
    assert roles[(0, "singer_id")] == "fk" and roles[(1, "singer_id")] == "pk"
    assert len(tt.joins) == 1 and tt.values[0].kind == "number"
    assert tt.values[0].column is not None and tt.columns[tt.values[0].column].name == "year"
    assert extract("SELECT x FROM nowhere", schema) is None


def test_every_filled_query_parses_executes_and_keeps_structure(db) -> None:
    schema = from_sqlite(db)
    rng = random.Random(0)
    filled = 0
    for sql in SOURCE:
        tt = extract(sql, schema)
        for _ in range(10):
            try:
                out = fill(tt, schema, db, rng)
            except FillError:
                continue
            res = execute(db, out)
            assert res.ok, (out, res.message)
            assert template(out).tokens == tt.structural, out
            filled += 1
    assert filled >= 40


def test_join_template_needs_foreign_keys(tmp_path, db) -> None:
    path = tmp_path / "flat.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE a (id INTEGER, v TEXT); CREATE TABLE b (id INTEGER, w TEXT);")
    con.close()
    tt = extract(SOURCE[2], from_sqlite(db))
    with pytest.raises(FillError, match="without foreign keys"):
        fill(tt, from_sqlite(path), path, random.Random(0))
