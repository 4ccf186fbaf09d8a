"""Question-level decontamination: keys, shared questions, and sampling that leaves them out."""
import json

import pytest

from alignsql.data.example import Example
from alignsql.data.overlap import question_key, question_keys, shared
from alignsql.errors import AlignSQLError
from alignsql.train.data import gather


def test_question_key_by_hand() -> None:
    """Lower case, punctuation to spaces, whitespace collapsed; digits kept."""
    assert question_key("What is the biggest city in Kansas?") == "what is the biggest city in kansas"
    assert question_key("  How many\tstates' capitals? ") == "how many states capitals"
    assert question_key("Top-5 cities, 2020") == "top 5 cities 2020"
    assert question_key("") == "" and question_keys([Example("", "SELECT 1", "d")]) == set()


def test_shared_positions() -> None:
    exs = [Example(q, "SELECT 1", "d") for q in ("A b?", "c d", "a B", "e")]
    assert shared(exs, {"a b"}) == [0, 2]


def _file(tmp_path, questions) -> str:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"question": q, "sql": "SELECT 1", "db_id": "d"}) + "\n"
                            for q in questions))
    return f"file:{path}"


def test_gather_leaves_excluded_questions_out_before_sampling(tmp_path) -> None:
    """5 examples, 2 of them test questions: a sample of 3 is the 3 clean ones; asking for 5
    gives the 3 clean ones (2 counted as excluded); asking for 6 (more than the set holds) is
    an error."""
    from collections import Counter
    spec = _file(tmp_path, ["q1", "Q2?", "q3", "q4", "q5"])
    keys = {"q2", "q4"}
    for n in (3, 5):
        skipped: Counter = Counter()
        got = gather([spec], [n], [], None, 0, None, keys, skipped)
        assert sorted(ex.question for ex, _ in got) == ["q1", "q3", "q5"]
        assert skipped == {f"{spec}: ineligible, question in an excluded set": 2}
    assert len(gather([spec], [4], [], None, 0, None)) == 4  # no exclusion: as before
    with pytest.raises(AlignSQLError):
        gather([spec], [6], [], None, 0, None, keys)


def test_gather_with_db_draws_among_questions_that_have_a_database(tmp_path) -> None:
    """4 records, 2 on a SQLite file that exists and 2 on one that does not: with_db asks for
    2 and gets the 2 with a database (2 counted as ineligible), not a draw among all 4 that
    loses some later; asking for 3 gives the 2 there are; without with_db all 4 are drawn."""
    import sqlite3
    from collections import Counter
    sqlite3.connect(tmp_path / "a.sqlite").close()
    rows = [("q1", "a"), ("q2", "b"), ("q3", "a"), ("q4", "b")]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"question": q, "sql": "SELECT 1", "db_id": d,
                                        "db_path": f"{d}.sqlite"}) + "\n" for q, d in rows))
    spec = f"file:{path}"
    for n in (2, 3):
        skipped: Counter = Counter()
        got = gather([spec], [n], [], None, 0, None, None, skipped, with_db=True)
        assert sorted(ex.question for ex, _ in got) == ["q1", "q3"]
        assert skipped == {f"{spec}: ineligible, no database": 2}
    assert len(gather([spec], [4], [], None, 0, None)) == 4


def test_spider_train_repeats_geoquery_test_questions(data_root) -> None:
    """The fact the exclusion exists for: Spider's training set (its `geo` database) holds
    113 of geography:test's 279 questions word for word."""
    from alignsql.data import registry
    train = registry.load("spider:train", str(data_root)).examples
    test = registry.load("geography:test", str(data_root)).examples
    keys = question_keys(train)
    assert len([e for e in test if question_key(e.question) in keys]) == 113


def test_sft_training_data_counts_what_exclude_left_out(tmp_path, tiny_model_dir) -> None:
    """SFT's exclude: the excluded questions never reach the training records, and the count
    lands in skipped (data.json)."""
    from alignsql.models.loading import load_tokenizer
    from alignsql.train.config import SFTConfig
    from alignsql.train.data import build_training_data
    train = _file(tmp_path, ["q1", "q2", "q3", "q4"])
    (tmp_path / "t").mkdir()
    test = _file(tmp_path / "t", ["Q3"])
    cfg = SFTConfig(train=[train], exclude=[test], val_fraction=0.0, max_length=256)
    data = build_training_data(cfg, load_tokenizer(str(tiny_model_dir)))
    assert len(data.train) == 3 and not any("q3" in r["prompt"] for r in data.train)
    assert data.skipped == {f"{train}: ineligible, question in an excluded set": 1}
    # evaluating on a set that shares one question with training is said, and counted
    from alignsql.train.sft import _shared_with_eval
    (tmp_path / "e").mkdir()
    said: list[str] = []
    cfg.eval = _file(tmp_path / "e", ["q1!", "q9"])
    assert _shared_with_eval(cfg, data, said.append) == 1
    assert len(said) == 1 and "1 of" in said[0] and "exclude=" in said[0]
