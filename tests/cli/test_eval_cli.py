import json

from alignsql.cli.main import main


def run(capsys, *argv: str):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_gold_as_pred_on_spider_dev(capsys, data_root, tmp_path) -> None:
    """The self-check of the issue: every Spider dev example whose database exists scores."""
    code, out, _ = run(capsys, "eval", "--dataset", "spider:dev", "--gold-as-pred", "--json",
                       "--out", str(tmp_path / "ev"))
    s = json.loads(out)
    assert code == 0
    assert (s["n"], s["n_scored"], s["ex"]) == (1034, 972, 1.0)
    assert s["errors"] == {"missing_db": 62}
    assert set(s["by_hardness"]) == {"easy", "medium", "hard", "extra"}
    for name in ("results.jsonl", "summary.json", "report.md", "report.html", "config.yaml"):
        assert (tmp_path / "ev" / name).exists()


def test_gold_as_pred_geoquery_and_kaggledbqa(capsys, data_root) -> None:
    for spec in ("geoquery:all", "kaggledbqa:all"):
        code, out, _ = run(capsys, "eval", "--dataset", spec, "--gold-as-pred", "--json")
        s = json.loads(out)
        assert code == 0 and s["ex"] == 1.0 and s["n_scored"] > 80


def test_predictions_by_line_order_and_plain_text(capsys, data_root, tmp_path) -> None:
    from alignsql.data import registry
    gold = registry.load("spider:dev", data_root).examples[:20]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("\n".join(json.dumps({"sql": e.sql}) for e in gold[:19]))
    code, out, _ = run(capsys, "eval", "--dataset", "spider:dev", "--preds", str(jsonl),
                       "--limit", "20", "--json")
    s = json.loads(out)
    assert s["ex"] == 19 / 20 and s["errors"]["missing_pred"] == 1
    txt = tmp_path / "p.sql"
    txt.write_bytes(("\n".join(e.sql for e in gold) + "\n").encode() + b"SELECT \xff\n")
    code, out, _ = run(capsys, "eval", "--dataset", "spider:dev", "--preds", str(txt),
                       "--limit", "20", "--json")
    s = json.loads(out)
    assert s["ex"] == 1.0 and s["extra_predictions"] == 1 and s["errors"]["read:non_utf8"] == 1


def test_bad_prediction_files(capsys, data_root, tmp_path) -> None:
    code, _, err = run(capsys, "eval", "--dataset", "spider:dev", "--preds",
                       str(tmp_path / "none.jsonl"))
    assert code == 2 and "not found" in err
    mixed = tmp_path / "m.jsonl"
    mixed.write_text('{"id": 0, "sql": "SELECT 1"}\n{"sql": "SELECT 2"}\n')
    code, _, err = run(capsys, "eval", "--dataset", "spider:dev", "--preds", str(mixed))
    assert code == 2 and "ids on every line" in err
    code, _, err = run(capsys, "eval", "--dataset", "spider:dev")
    assert code == 2 and "--preds" in err
