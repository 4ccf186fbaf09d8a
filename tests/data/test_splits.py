"""Clean splits: seeded, disjoint parts; overlap rules; a leaking run is refused."""
import json

import pytest

from alignsql.data.splits import check_clean, overlaps, part_ids, record_steering, steered_by
from alignsql.errors import AlignSQLError


def test_parts_are_seeded_disjoint_and_30_percent() -> None:
    ids = [f"q{i}" for i in range(1000)]
    held, rest = part_ids("spider:dev", ids)
    assert len(held) == 300 and len(rest) == 700 and not held & rest
    assert held | rest == set(ids)
    assert part_ids("spider:dev", list(reversed(ids))) == (held, rest)  # order-free
    assert part_ids("bird:dev", ids)[0] != held  # keyed by the dataset's name


def test_registry_parts_of_spider_dev(data_root) -> None:
    from alignsql.data import registry
    whole = registry.load("spider:dev", data_root)
    steer = registry.load("spider:dev@steer", data_root)
    test = registry.load("spider:dev@test", data_root)
    assert len(steer.examples) + len(test.examples) == len(whole.examples) == 1034
    assert not {e.id for e in steer.examples} & {e.id for e in test.examples}
    assert test.name == "spider:dev@test" and test.db_path(test.examples[0].db_id)
    assert {e.id for e in registry.load("spider:dev@val", data_root).examples} == \
        {e.id for e in steer.examples}
    with pytest.raises(AlignSQLError, match="unknown part"):
        registry.load("spider:dev@train", data_root)


@pytest.mark.parametrize("steered, evaluated, leak", [
    ("spider:dev", "spider:dev", True),
    ("spider:dev@steer", "spider:dev@test", False),
    ("spider:dev@test", "spider:dev@steer", False),
    ("spider:dev@steer", "spider:dev", True),
    ("spider:dev", "spider:dev@test", True),
    ("spider:dev@test", "spider:dev@test", True),
    ("geoquery:all", "geography:all", True),
    ("spider", "spider:dev", True),
    ("spider:dev", "spider:train", False),
    ("bird:dev", "spider:dev", False),
])
def test_overlap_rules(steered, evaluated, leak) -> None:
    assert overlaps(steered, evaluated) is leak


def test_leaking_sft_config_is_refused(tmp_path) -> None:
    """A `select` subset steered toward spider:dev, trained on and evaluated on spider:dev:
    refused in one line naming the fix, before anything loads; allowed with allow_leak, and
    clean with the steer/test parts."""
    from alignsql.train.config import SFTConfig
    from alignsql.train.sft import train
    subset = tmp_path / "subset.jsonl"
    subset.write_text(json.dumps({"question": "q", "sql": "SELECT 1", "db_id": "x"}) + "\n")
    record_steering(subset, ["spider:dev"])
    assert steered_by(f"file:{subset}") == ["spider:dev"]
    cfg = SFTConfig(train=[f"file:{subset}"], eval="spider:dev", output_dir=str(tmp_path))
    with pytest.raises(AlignSQLError, match=r"reuses spider:dev.*spider:dev@test.*allow_leak"):
        train(cfg)
    assert not (tmp_path / cfg.name).exists()  # refused before the run directory exists
    check_clean(["spider:dev"], "spider:dev", allow=True, what="x")
    record_steering(subset, ["spider:dev@steer"])
    check_clean(steered_by(f"file:{subset}"), "spider:dev@test", allow=False, what="x")
