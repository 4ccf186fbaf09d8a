import sqlite3

from alignsql.data.example import Column, Dataset, Example, ForeignKey, Schema, Table
from alignsql.data.merge import gold_tables, merge
from alignsql.eval.executor import execute


def _db(path, rows):
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE people (id INT, name TEXT); CREATE TABLE pet (pid INT, owner INT);")
    con.executemany("INSERT INTO people VALUES (?, ?)", rows)
    con.commit()
    con.close()
    return path


def test_merge_renames_collisions_and_gold_still_runs(tmp_path) -> None:
    schemas, paths = {}, {}
    for db, rows in (("a", [(1, "x")]), ("b", [(1, "y"), (2, "z")])):
        schemas[db] = Schema(db, [Table("people", [Column("id"), Column("name")]),
                                  Table("pet", [Column("pid"), Column("owner")])],
                             [ForeignKey("pet", "owner", "people", "id")])
        paths[db] = _db(tmp_path / f"{db}.sqlite", rows)
    examples = [Example("q", "SELECT count(*) FROM people", "b", id="0"),
                Example("q", "SELECT name FROM people JOIN pet ON people.id = pet.owner", "a", id="1"),
                Example("q", "SELECT * FROM nowhere", "a", id="2")]
    ds = Dataset("toy", examples, schemas, paths)
    m = merge(ds, tmp_path / "merged.sqlite", min_tables=4)
    assert sorted(t.name for t in m.schema.tables) == ["a__people", "a__pet", "b__people", "b__pet"]
    assert {(f.table, f.ref_table) for f in m.schema.foreign_keys} == {("a__pet", "a__people"),
                                                                       ("b__pet", "b__people")}
    assert m.skipped["gold SQL names a table missing from the schema"] == 1
    first = m.dataset.examples[0]
    assert first.id == "b/0" and gold_tables(first, m.schema) == {"b__people"}
    assert execute(tmp_path / "merged.sqlite", first.sql).rows == [(2,)]
    assert execute(paths["b"], "SELECT count(*) FROM people").rows == [(2,)]  # sources untouched


def test_merged_spider_setting_keeps_every_gold_query_executable(data_root, tmp_path) -> None:
    """The LR-SQL setting: Spider-train databases merged to 150+ tables; every renamed gold query
    still returns its original result on the merged file (gold-as-pred EX = 1.0)."""
    from alignsql.data import registry
    from alignsql.eval.evaluate import evaluate
    m = merge(registry.load("spider:train", data_root), tmp_path / "merged.sqlite")
    assert len(m.schema.tables) >= 150
    examples = m.dataset.examples
    assert len(examples) > 1000 and sum(m.skipped.values()) <= 2
    _, summary = evaluate(examples, {e.id: e.sql for e in examples}, m.dataset.db_paths, workers=2)
    assert summary.ex == 1.0 and summary.n_scored == len(examples)
    # and the renamed query returns what the original returns on its own database
    from alignsql.eval.compare import results_match
    src = registry.load("spider:train", data_root)
    originals = {f"{e.db_id}/{e.id}": e for e in src.examples}
    for ex in examples[::10]:
        orig = originals[ex.id]
        a = execute(tmp_path / "merged.sqlite", ex.sql)
        b = execute(src.db_path(orig.db_id), orig.sql)
        assert a.ok and b.ok and results_match(b.rows, a.rows), ex.sql  # same rows (ties may reorder)


def test_schema_only_dataset_merges_without_a_database(tmp_path) -> None:
    """BIRD here ships schemas, not databases: the merged schema and renamed questions still
    come out (for link training and table metrics), and no SQLite file is built."""
    schemas = {db: Schema(db, [Table("people", [Column("id")]), Table(f"{db}_only", [Column("x")])])
               for db in ("a", "b")}
    ds = Dataset("toy", [Example("q", "SELECT id FROM people", "a", id="0")], schemas, {})
    m = merge(ds, tmp_path / "merged.sqlite", min_tables=3)
    assert sorted(t.name for t in m.schema.tables) == ["a__people", "a_only", "b__people", "b_only"]
    assert m.dataset.db_path("merged") is None and not (tmp_path / "merged.sqlite").exists()
    assert gold_tables(m.dataset.examples[0], m.schema) == {"a__people"}


def test_schema_only_merge_on_bird_dev(data_root, tmp_path) -> None:
    """The real case: BIRD dev's 11 schemas merged to 50+ tables, questions kept."""
    from alignsql.data import registry
    m = merge(registry.load("bird:dev", data_root), tmp_path / "merged.sqlite", min_tables=50)
    assert len(m.schema.tables) >= 50 and m.dataset.db_path("merged") is None
    assert len(m.dataset.examples) > 100
