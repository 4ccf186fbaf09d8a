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
