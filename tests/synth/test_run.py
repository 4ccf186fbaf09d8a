"""The synth run directory, the round trip with a stub model, and question clean-up."""
import json
from pathlib import Path

import pytest
import yaml

from alignsql.data import registry
from alignsql.data.schema import from_sqlite
from alignsql.errors import AlignSQLError
from alignsql.synth.config import SynthConfig
from alignsql.synth.run import run_synth
from alignsql.synth.sql2text import Pair, clean_question, prompt, round_trip

SOURCE = ["SELECT count(*) FROM singer", "SELECT name FROM singer WHERE age > 20",
          "SELECT country FROM singer WHERE name = 'n3'", "SELECT max(age) FROM singer",
          "SELECT T2.name FROM concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id "
          "WHERE T1.year = 2014"]


def _source(tmp_path: Path, db: Path) -> str:
    f = tmp_path / "source.jsonl"
    f.write_text("".join(json.dumps({"question": f"q{i}", "sql": s, "db_id": "cs",
                                     "db_path": str(db)}) + "\n" for i, s in enumerate(SOURCE * 3)))
    return f"file:{f}"


def test_clean_question() -> None:
    assert clean_question("Question: How many singers are there?\n\nSQL: ...") == \
        "How many singers are there?"
    assert clean_question('  "Which singer is oldest?"') == "Which singer is oldest?"
    assert clean_question("\n```\n") == ""
    assert clean_question("1. What is the zip code of address 3?") == \
        "What is the zip code of address 3?"


def test_sql2text_prompt_shares_the_schema_prefix(tiny_model_dir, db) -> None:
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    schema = from_sqlite(db, "cs")
    a, pa = prompt(tok, schema, "SELECT 1")
    b, pb = prompt(tok, schema, "SELECT name FROM singer")
    assert pa == pb and a.startswith(pa) and b.startswith(pb)
    assert "CREATE TABLE" in pa and "SELECT name FROM singer" in b and a.endswith("Question: ")


def test_round_trip_keeps_only_matching_results(db) -> None:
    """The stub answers the first question with an equivalent query (different text, same
    rows), the second with a different query, the third with nothing."""
    schema = from_sqlite(db, "cs")
    pairs = [Pair(s, "cs", db, schema, {}) for s in (
        "SELECT name FROM singer WHERE age > 40", "SELECT count(*) FROM singer",
        "SELECT max(age) FROM singer")]
    answers = ["SELECT name FROM singer WHERE NOT age <= 40", "SELECT count(*) FROM concert", ""]
    assert round_trip(pairs, lambda ps: answers) == [True, False, False]


def test_synth_run_directory_and_dataset(tmp_path, db, tiny_model_dir) -> None:
    out = tmp_path / "synth"
    cfg = SynthConfig(db=str(db), templates_from=_source(tmp_path, db), n=12, out=str(out),
                      sql2text_model=str(tiny_model_dir), round_trip=False, dtype="fp32",
                      val_fraction=0.25)
    summary = run_synth(cfg)
    for name in ("config.yaml", "round1.jsonl", "round1_val.jsonl", "round1.json",
                 "round1_sql.jsonl", "round1_questions.jsonl", "summary.json"):
        assert (out / name).exists(), name
    r1 = summary["rounds"][0]
    assert 0 < r1["verified_sql"] <= 12
    assert r1["pairs"] + sum(r1["dropped_after_sql"].values()) == r1["verified_sql"]
    recs = [json.loads(x) for x in (out / "round1.jsonl").read_text().splitlines()]
    assert all({"template_id", "round", "checks", "question"} <= set(r) for r in recs)
    if recs:  # the synthetic file is a dataset with its database attached
        ds = registry.load(f"file:{out / 'round1.jsonl'}")
        assert ds.db_path("cs") is not None and ds.schemas["cs"].table("singer")
    asked = [json.loads(x) for x in (out / "round1_questions.jsonl").read_text().splitlines()]
    assert sorted(a["i"] for a in asked) == list(range(r1["verified_sql"]))  # one per query
    again = run_synth(cfg)  # resumed: nothing recomputed
    assert again["rounds"] == summary["rounds"]


def test_rounds_fine_tune_and_feed_failures_back(tmp_path, db, tiny_model_dir) -> None:
    sft = tmp_path / "sft.yaml"
    sft.write_text(yaml.safe_dump({"model": str(tiny_model_dir), "max_steps": 2, "batch_size": 2,
                                   "max_length": 256, "dtype": "fp32", "device": "cpu",
                                   "method": "full", "val_fraction": 0.0, "save_steps": 10}))
    source = _source(tmp_path, db)
    cfg = SynthConfig(db=str(db), templates_from=source, n=10, rounds=2, out=str(tmp_path / "s"),
                      sql2text_model=str(tiny_model_dir), round_trip=False, sft=str(sft),
                      real=[source], real_size=[5],
                      val_fraction=0.3, dtype="fp32")
    summary = run_synth(cfg)
    r1, r2 = summary["rounds"]
    assert Path(r1["model"]).is_dir() and Path(r2["model"]).is_dir()
    assert 0.0 <= r1["val_ex"] <= 1.0
    # the random tiny model fails everything: each failed template is boosted in round 2
    assert sum(r1["failures"].values()) == len((tmp_path / "s" / "round1_val.jsonl")
                                                .read_text().splitlines())


def test_bad_config_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(AlignSQLError, match="rounds > 1"):
        SynthConfig(rounds=2)
    with pytest.raises(AlignSQLError, match="not found"):
        run_synth(SynthConfig(db=str(tmp_path / "nope.sqlite"), out=str(tmp_path / "o"),
                              templates_from=f"file:{tmp_path / 'x.jsonl'}"))


def test_phase_time_survives_a_restart(tmp_path, monkeypatch) -> None:
    """A round killed after its `sql` phase (5 s) and resumed, redoing it in 2 s (its output
    kept), records 5 + 2 = 7 s, not the 2 s the second process alone measured; the rate
    (pairs per minute) is computed from these seconds."""
    from alignsql.synth import run as synth_run
    ticks = iter([0.0, 5.0, 10.0, 12.0])
    monkeypatch.setattr(synth_run.time, "perf_counter", lambda: next(ticks))
    path = tmp_path / "round1_seconds.json"
    assert synth_run._Clock(path)("sql", lambda: "pairs") == "pairs"
    resumed = synth_run._Clock(path)
    resumed("sql", lambda: "pairs")
    assert resumed.seconds == {"sql": 7.0}
    assert json.loads(path.read_text()) == {"sql": 7.0}
