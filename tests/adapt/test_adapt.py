"""`alignsql adapt` end to end on the tiny random model and a generated database: every stage
runs, the report and summary are written, a kill between stages resumes where it stopped,
and the user's database is never written."""
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from alignsql.errors import AlignSQLError


def _db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INT);
        CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, singer_id INT REFERENCES singer,
                              year INT);""")
    con.executemany("INSERT INTO singer VALUES (?, ?, ?, ?)",
                    [(i, f"s{i}", ["France", "Peru", "Spain"][i % 3], 20 + i) for i in range(30)])
    con.executemany("INSERT INTO concert VALUES (?, ?, ?)",
                    [(i, i % 30, 2010 + i % 8) for i in range(40)])
    con.commit()
    con.close()
    return path


def _files(tmp_path: Path, db: Path) -> tuple[Path, Path, Path]:
    pool = tmp_path / "pool.jsonl"
    rows = [{"question": f"How many singers are older than {20 + i}?",
             "sql": f"SELECT count(*) FROM singer WHERE age > {20 + i}", "db_id": "music",
             "db_path": str(db)} for i in range(20)]
    rows += [{"question": f"Which singers are from {c}?",
              "sql": f"SELECT name FROM singer WHERE country = '{c}'", "db_id": "music",
              "db_path": str(db)} for c in ("France", "Peru", "Spain")]
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    workload = tmp_path / "workload.sql"
    workload.write_text("SELECT count(*) FROM singer WHERE age > 30;\n"
                        "SELECT name FROM singer WHERE country = 'Peru'; -- a comment\n"
                        "DELETE FROM singer;\nSELECT year, count(*) FROM concert GROUP BY year")
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"question": f"How many concerts were in {y}?",
                                        "sql": f"SELECT count(*) FROM concert WHERE year = {y}"})
                            + "\n" for y in range(2010, 2016)))
    return pool, workload, test


def test_adapt_runs_every_stage_and_resumes(tmp_path, tiny_model_dir, monkeypatch) -> None:
    from alignsql.adapt import stages
    from alignsql.adapt.run import AdaptConfig, adapt
    db = _db(tmp_path / "music.sqlite")
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    pool, workload, test = _files(tmp_path, db)
    cfg = AdaptConfig(db=str(db), workload=str(workload), test=str(test),
                      model=str(tiny_model_dir), out=str(tmp_path / "run"), budget_min=2,
                      pool=[f"file:{pool}"], n_synth=6, max_length=256,
                      sample_values=0, batch_size=4, dtype="fp32", device="cpu")
    real_train = stages.train

    def killed(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(stages, "train", killed)
    with pytest.raises(KeyboardInterrupt):
        adapt(cfg)
    done = {p.stem for p in (tmp_path / "run" / "stages").glob("*.json")}
    assert done == {"profile", "plan", "select", "synth"}
    monkeypatch.setattr(stages, "train", real_train)
    logs: list[str] = []
    summary = adapt(cfg, log=logs.append)
    assert "profile: done earlier, skipped" in logs and "synth: done earlier, skipped" in logs
    run = tmp_path / "run"
    prof = json.loads((run / "stages" / "profile.json").read_text())
    assert prof["workload"]["n"] == 3 and prof["workload"]["skipped"] == {"not a query (Delete)": 1}
    assert prof["test"]["n"] == 6 and prof["tables"] == 2
    assert summary["n"] == 6 and not summary["test_is_synthetic"]
    assert 0 <= summary["ex_untuned"] <= 1 and 0 <= summary["ex_tuned"] <= 1
    assert summary["ci"][0] <= summary["diff"] <= summary["ci"][1]
    assert Path(summary["tuned_model"]).is_dir()
    page = (run / "report.html").read_text()
    assert "alignsql serve --model" in page and "Questions that changed" in page
    assert json.loads((run / "summary.json").read_text())["stage_s"]["train"] > 0
    # the selection was sized in tokens, counted exactly as training then packed them
    sel = json.loads((run / "stages" / "select.json").read_text())
    kept = [t for t in sel["fit"]["tried"] if t["k"] == sel["n"]]
    groups = json.loads((run / "sft" / "groups.json").read_text())
    assert kept and kept[0]["tokens"] == groups["tokens_shared"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_adapt_bad_input(tmp_path) -> None:
    from alignsql.adapt.run import AdaptConfig, adapt
    from alignsql.adapt.workload import split_statements
    with pytest.raises(AlignSQLError, match="--db"):
        AdaptConfig()
    with pytest.raises(AlignSQLError, match="file not found"):
        adapt(AdaptConfig(db=str(tmp_path / "none.sqlite"), out=str(tmp_path / "r")))
    db = _db(tmp_path / "m.sqlite")
    (tmp_path / "empty.sql").write_text("DELETE FROM singer;")
    with pytest.raises(AlignSQLError, match=r"--workload .*no usable record"):
        adapt(AdaptConfig(db=str(db), workload=str(tmp_path / "empty.sql"),
                          out=str(tmp_path / "r2")))
    assert split_statements("SELECT ';' AS x; SELECT 2;;") == ["SELECT ';' AS x", "SELECT 2"]
