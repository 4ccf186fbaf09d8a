"""LR-SQL end to end on a toy merged database and the tiny random model (two steps a stage)."""
import json
import sqlite3

import pytest

from alignsql.data.example import Column, Dataset, Example, ForeignKey, Schema, Table
from alignsql.lrsql.config import LRSQLConfig
from alignsql.lrsql.run import baseline, run


def _toy(tmp_path, with_db: bool = True) -> Dataset:
    schemas, paths, examples = {}, {}, []
    for db in ("a", "b"):
        path = tmp_path / f"{db}.sqlite"
        con = sqlite3.connect(path)
        con.executescript("CREATE TABLE people (id INT, name TEXT); CREATE TABLE pet (pid INT, owner INT);"
                          "CREATE TABLE city (cid INT, cname TEXT);"
                          "INSERT INTO people VALUES (1, 'x'), (2, 'y'); INSERT INTO pet VALUES (1, 1);")
        con.close()
        paths[db] = path
        schemas[db] = Schema(db, [Table("people", [Column("id", "INT"), Column("name", "TEXT")]),
                                  Table("pet", [Column("pid", "INT"), Column("owner", "INT")]),
                                  Table("city", [Column("cid", "INT"), Column("cname", "TEXT")])],
                             [ForeignKey("pet", "owner", "people", "id")])
        for i, sql in enumerate(["SELECT count(*) FROM people", "SELECT name FROM people",
                                 "SELECT count(*) FROM pet", "SELECT cname FROM city"]):
            examples.append(Example(f"question {i} on {db}", sql, db, id=str(i)))
    return Dataset("toy", examples, schemas, paths if with_db else {})


def _cfg(tmp_path, model) -> LRSQLConfig:
    return LRSQLConfig(name="lr", output_dir=str(tmp_path / "runs"), model=str(model),
                       min_tables=6, n_train=4, n_test=2, slice_tokens=700, reserve=580,
                       max_steps=2, batch_size=2, dtype="fp32", device="cpu", gen_batch_size=2,
                       sqlgen_max_length=400)


@pytest.mark.parametrize("with_db", [True, False])
def test_baseline_scores_sliced_and_full_schema_with_one_model(tmp_path, tiny_model_dir,
                                                              with_db: bool) -> None:
    """No training: the same (untrained) model walks the slices and sees the whole schema.
    Schemas without databases (BIRD here) give table metrics and no EX."""
    result = baseline(_cfg(tmp_path, tiny_model_dir), ds=_toy(tmp_path, with_db))
    assert result["n_tables"] == 6 and result["full_schema_prompt_tokens"] > 0
    out = tmp_path / "runs" / "lr" / "baseline" / tiny_model_dir.name
    for name in ("sliced", "full_schema"):
        assert result[name]["n_test"] == 2
        assert (result[name]["ex"] is None) != with_db
        assert set(result[name]["table_metrics"]) >= {"exact", "precision", "recall"}
        assert len((out / name / "preds.jsonl").read_text().splitlines()) == 2
    assert json.loads((out / "summary.json").read_text()) == result


def test_lrsql_pipeline_runs_and_reports(tmp_path, tiny_model_dir) -> None:
    result = run(_cfg(tmp_path, tiny_model_dir), ds=_toy(tmp_path))
    assert result["n_tables"] == 6 and result["n_slices"] >= 2
    assert set(result["table_metrics"]) >= {"exact", "all_found", "precision", "recall"}
    assert 0.0 <= result["ex"] <= 1.0 and result["n_test"] == 2
    run_dir = tmp_path / "runs" / "lr"
    for name in ("config.yaml", "summary.json", "eval/preds.jsonl", "eval/results.jsonl", "link/merged/config.json",
                 "sqlgen/merged/config.json", "link/metrics.jsonl"):
        assert (run_dir / name).exists(), name
    assert len((run_dir / "eval" / "preds.jsonl").read_text().splitlines()) == 2
    assert json.loads((run_dir / "summary.json").read_text())["n_tables"] == 6


def test_a_killed_walk_resumes_at_its_first_unkept_part(tmp_path, tiny_model_dir,
                                                        monkeypatch) -> None:
    """A walk killed in its second part kept the first part's replies; walked again with the
    same model and questions it generates parts 2.. only and ends with the tables of a walk
    never killed. Other questions (other prompts) walk every part again."""
    from alignsql.lrsql import run as lr
    from alignsql.models.loading import load_tokenizer

    cfg, tok = _cfg(tmp_path, tiny_model_dir), load_tokenizer(str(tiny_model_dir))
    merged, train_q, test_q, slicing = lr.prepare(cfg, _toy(tmp_path), tok)
    assert len(slicing.slices) >= 2
    names, calls = [t.name for t in merged.schema.tables], []

    def fake(prompts, prefix=None, kill_at=None):
        calls.append(len(prompts))
        if len(calls) == kill_at:
            raise KeyboardInterrupt  # the session ends
        return [", ".join(names)] * len(prompts)  # the walk keeps the part's own tables

    def walk(parts_dir, questions, kill_at=None):
        monkeypatch.setattr(lr, "_generator", lambda *a, **k: (
            lambda p, pre=None: fake(p, pre, kill_at), tok))
        return [r.tables for r in lr.link(tiny_model_dir, questions, merged, slicing, cfg,
                                          parts_dir=parts_dir)]

    whole = walk(None, train_q)
    parts = len(calls)
    assert all(sorted(t) == sorted(names) for t in whole)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        walk(tmp_path / "parts", train_q, kill_at=2)
    calls.clear()
    assert walk(tmp_path / "parts", train_q) == whole and len(calls) == parts - 1
    calls.clear()
    walk(tmp_path / "parts", test_q)
    assert len(calls) == parts
