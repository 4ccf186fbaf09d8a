import json
from collections import Counter

from alignsql.sql.hardness import from_spider_sql, from_sql, level


def test_decision_rule() -> None:
    assert level(1, 0, 0) == "easy"
    assert level(1, 0, 2) == "medium" and level(2, 0, 1) == "medium"
    assert level(2, 0, 3) == "hard" and level(3, 0, 2) == "hard" and level(1, 1, 0) == "hard"
    assert level(4, 0, 0) == "extra" and level(2, 1, 0) == "extra"


def test_official_counts_on_spider_dev_and_ast_agreement(data_root) -> None:
    """Spider dev's published hardness split is 248 easy / 446 medium / 174 hard / 166 extra."""
    dev = json.loads((data_root / "spider" / "dev.json").read_text())
    official = [from_spider_sql(x["sql"]) for x in dev]
    assert Counter(official) == {"easy": 248, "medium": 446, "hard": 174, "extra": 166}
    ast = [from_sql(x["query"]) for x in dev]
    assert sum(a == b for a, b in zip(official, ast)) / len(dev) >= 0.99
