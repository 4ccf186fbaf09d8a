"""Loaders against the real shared data: counts stated in the data README and the issues."""
import pytest

from alignsql.data import registry


@pytest.mark.parametrize("spec,count", [
    ("spider:dev", 1034), ("spider:train", 8659), ("spider:train_spider", 7000),
    ("spider:train_others", 1659), ("bird:dev", 1534), ("bird:train", 6601),
    ("bird:mini_dev", 500), ("kaggledbqa:all", 272), ("gretel", 25), ("defog:sqlite", 210),
    ("geoquery:all", 877), ("atis:all", 5280), ("advising:all", 4387 - 956)])
def test_counts(data_root, spec: str, count: int) -> None:
    assert len(registry.load(spec, data_root)) == count


def test_spider_schema_and_databases(data_root) -> None:
    ds = registry.load("spider:dev", data_root)
    assert ds.examples[0].id == "0" and ds.examples[0].db_id == "concert_singer"
    assert ds.db_path("concert_singer") is not None
    assert ds.db_path("wta_1") is None  # absent from the shared data
    schema = ds.schemas["concert_singer"]
    assert "singer" in schema.table_names and schema.foreign_keys


def test_bird_keeps_evidence_ids_and_difficulty(data_root) -> None:
    ds = registry.load("bird:dev", data_root)
    ex = ds.examples[0]
    assert ex.id == "0" and ex.evidence and ex.difficulty == "simple"
    assert "frpm" in ds.schemas[ex.db_id].table_names


def test_text2sql_variables_substituted(data_root) -> None:
    ds = registry.load("geoquery:all", data_root)
    ex = ds.examples[0]
    assert "state_name0" not in ex.sql and "arizona" in ex.sql
    assert "arizona" in ex.question
    assert ds.db_path("geography") is not None


def test_wikisql_is_rebuilt_as_valid_sql(data_root) -> None:
    from alignsql.sql.template import template
    ds = registry.load("wikisql:dev", data_root)
    assert len(ds) == 8421
    unparsed = sum(not template(e.sql).parsed for e in ds.examples[:2000])
    assert unparsed <= 2


def test_every_dataset_loads(data_root) -> None:
    for name, info in registry.available(data_root):
        if name == "wikisql":
            continue  # covered above; the biggest load
        assert len(registry.load(f"{name}:{info.default}", data_root)) > 0, name


def test_byte_order_mark_is_dropped_in_csv_json_and_jsonl(tmp_path) -> None:
    from alignsql.data.loaders import load_file
    bom = "\ufeff"
    (tmp_path / "a.csv").write_text(bom + "question,sql\nhow many?,SELECT 1\n", encoding="utf-8")
    (tmp_path / "a.json").write_text(bom + '[{"question": "q", "sql": "SELECT 1"}]', encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(bom + '{"question": "q", "sql": "SELECT 1"}\n', encoding="utf-8")
    for name in ("a.csv", "a.json", "a.jsonl"):
        ex = load_file(tmp_path / name).examples
        assert [(e.question, e.sql) for e in ex] in ([("how many?", "SELECT 1")], [("q", "SELECT 1")])


def test_spider_format_file_reads_query_text_not_parsed_dict(tmp_path) -> None:
    """Spider's records hold the parsed query (a dict) under "sql" and the text under "query"."""
    import json

    from alignsql.data.loaders import load_file
    rec = {"db_id": "d", "question": "q", "query": "SELECT a FROM t",
           "sql": {"select": [False, []], "from": {"table_units": [], "conds": []}}}
    (tmp_path / "s.json").write_text(json.dumps([rec]))
    assert load_file(tmp_path / "s.json").examples[0].sql == "SELECT a FROM t"


def test_null_and_missing_sql_are_counted_not_loaded(tmp_path) -> None:
    """EHRSQL's unanswerable questions carry the SQL text "null"."""
    import json

    from alignsql.data.loaders import load_file
    recs = [{"question": "a", "sql": "SELECT 1"}, {"question": "b", "sql": "null"},
            {"question": "c", "sql": None}, {"question": "d"}]
    (tmp_path / "n.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    ds = load_file(tmp_path / "n.jsonl")
    assert [e.question for e in ds.examples] == ["a"]
    assert ds.skipped == {"unanswerable (sql is 'null')": 1, "no sql": 2}
