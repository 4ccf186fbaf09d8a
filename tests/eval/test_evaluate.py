import json

from alignsql.data.example import Example
from alignsql.eval.evaluate import EvalOptions, ExampleResult, evaluate


def _examples() -> list[Example]:
    sqls = ["SELECT count(*) FROM singer",
            "SELECT name FROM singer WHERE country = 'France' ORDER BY age",
            "SELECT T1.name, T2.year FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id",
            "SELECT value FROM singer WHERE value = 'value'",
            "SELECT nope FROM singer"]
    return [Example(f"q{i}", s, db_id="cs", id=str(i)) for i, s in enumerate(sqls)] + [
        Example("q", "SELECT 1", db_id="absent", id="5")]


def test_gold_as_pred_scores_one(db) -> None:
    ex = _examples()
    results, summary = evaluate(ex, {e.id: e.sql for e in ex}, {"cs": db, "absent": None},
                                workers=1)
    assert summary.ex == 1.0 and summary.valid == 1.0
    assert summary.n == 6 and summary.n_scored == 4
    assert summary.errors["gold_error"] == 1 and summary.errors["missing_db"] == 1
    assert [r.status for r in results][-2:] == ["gold_error", "missing_db"]


def test_wrong_missing_and_broken_predictions(db) -> None:
    ex = _examples()
    preds = {"0": "SELECT count(*) FROM concert",                          # wrong value
             "1": "SELECT name FROM singer WHERE country = 'France' ORDER BY age DESC",  # order
             "2": "SELECT T2.year, T1.name FROM singer AS T1 JOIN concert AS T2 "
                  "ON T1.singer_id = T2.singer_id",                       # columns swapped: ok
             "3": None}                                                    # missing
    results, summary = evaluate(ex, preds, {"cs": db}, workers=1)
    status = {r.id: r.status for r in results}
    assert status == {"0": "wrong", "1": "wrong", "2": "correct", "3": "missing_pred",
                      "4": "gold_error", "5": "missing_db"}
    assert summary.ex == 0.25 and summary.valid == 0.75


def test_parallel_equals_serial_and_streams_jsonl(db, tmp_path) -> None:
    ex = _examples() * 1
    preds = {e.id: e.sql for e in ex}
    _, serial = evaluate(ex, preds, {"cs": db}, workers=1)
    out = tmp_path / "results.jsonl"
    _, parallel = evaluate(ex, preds, {"cs": db}, workers=2, results_path=out)
    assert serial.ex == parallel.ex and serial.errors == parallel.errors
    assert len(out.read_text().splitlines()) == len(ex)


def test_resume_reuses_finished_records(db, tmp_path) -> None:
    """A record left by an interrupted run is kept when its prediction is unchanged (here a
    doctored 'correct' for a wrong query proves it was not recomputed); a changed prediction
    is scored afresh; a torn last line is ignored."""
    ex = _examples()[:2]
    out = tmp_path / "results.jsonl"
    fake = ExampleResult("0", "cs", "correct", "SELECT 42", ex[0].sql)
    from dataclasses import asdict
    out.write_text(json.dumps(asdict(fake)) + "\n" + '{"id": "1", "db_')
    results, summary = evaluate(ex, {"0": "SELECT 42", "1": ex[1].sql}, {"cs": db},
                                workers=1, results_path=out)
    assert [r.status for r in results] == ["correct", "correct"]
    results, _ = evaluate(ex, {"0": "SELECT 43", "1": ex[1].sql}, {"cs": db}, workers=1,
                          results_path=out)
    assert results[0].status == "wrong"
    assert len(out.read_text().splitlines()) == 2


def test_ves_is_positive_for_correct(db) -> None:
    ex = _examples()[:1]
    _, summary = evaluate(ex, {"0": ex[0].sql}, {"cs": db},
                          EvalOptions(ves=True, ves_repeats=3), workers=1)
    assert summary.ves is not None and summary.ves > 0


def test_gold_cache_is_keyed_by_max_rows_and_truncation_is_never_equal(db) -> None:
    """A run with max_rows=1 must not leave cut gold results for the next run (gold-as-pred
    then scores 1.0); a cut gold result is not scored; a prediction cut at max_rows is wrong
    even when its first rows match ({1,2,99} is not {1,2,3})."""
    ex = [Example("q", "SELECT singer_id FROM singer ORDER BY singer_id", db_id="cs", id="a"),
          Example("q", "SELECT 1", db_id="cs", id="b")]
    preds = {"a": ex[0].sql, "b": "SELECT singer_id FROM singer"}
    results, _ = evaluate(ex, preds, {"cs": db}, EvalOptions(max_rows=1), workers=1)
    assert [(r.status, r.gold_error, r.pred_error) for r in results] == [
        ("gold_error", "truncated", None), ("wrong", None, "truncated")]
    _, summary = evaluate(ex, {e.id: e.sql for e in ex}, {"cs": db}, workers=1)
    assert summary.ex == 1.0 and summary.n_scored == 2


def test_huge_prediction_is_not_parsed(db) -> None:
    """Over MAX_ANALYZE_CHARS the template is not computed (sqlglot spent 18-47 s on 1 MB) and
    over the executor's SQL cap the query is not run: one fast, categorized wrong answer."""
    from alignsql.eval.evaluate import MAX_ANALYZE_CHARS, analyze
    huge = "SELECT name FROM singer WHERE " + " OR ".join(["age = 1"] * 20_000)
    assert len(huge) > MAX_ANALYZE_CHARS and analyze(huge, "sqlite").template == ()
    ex = [Example("q", "SELECT name FROM singer", db_id="cs", id="a")]
    results, _ = evaluate(ex, {"a": huge}, {"cs": db}, workers=1)
    assert (results[0].status, results[0].pred_error) == ("pred_error", "too_large")


def test_hardness_in_natural_order_and_surrogates_in_reports(db, tmp_path) -> None:
    from alignsql.eval.evaluate import summarize
    from alignsql.eval.render import write_reports
    ex = [Example("q", "SELECT 1", db_id="cs", id=str(i), hardness=h)
          for i, h in enumerate(["hard", "easy", "extra", "medium"])]
    results, _ = evaluate(ex, {"0": "SELECT '\udc80'", "1": "SELECT 1", "2": "SELECT 1",
                               "3": "SELECT 1"}, {"cs": db}, workers=1)
    summary = summarize(results)
    assert list(summary.by_hardness) == ["easy", "medium", "hard", "extra"]
    write_reports(results, summary, "d", tmp_path)  # a lone surrogate used to crash here
    assert "SELECT &#x27;?&#x27;" in (tmp_path / "report.html").read_text()


def test_two_processes_storing_one_gold_cache_never_crash(db, tmp_path, monkeypatch) -> None:
    """Both write the same database's cache file many times; unique temporary names and an
    atomic replace mean no FileNotFoundError and a readable file at the end."""
    import multiprocessing as mp
    import pickle

    from alignsql.eval import evaluate as ev
    monkeypatch.setenv("ALIGNSQL_HOME", str(tmp_path / "home"))

    def writer(k: int) -> None:
        for i in range(40):
            ev._store_gold({(str(db), f"SELECT {k * 100 + i}", 10, 1.0): ev.ExecResult()})

    procs = [mp.get_context("fork").Process(target=writer, args=(k,)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    assert isinstance(pickle.loads(ev._gold_cache_file(str(db)).read_bytes()), dict)
