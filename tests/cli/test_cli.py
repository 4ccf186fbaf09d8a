import json


from alignsql.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_template_command(capsys) -> None:
    code, out, _ = run(capsys, "template",
                       "SELECT T2.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.sid "
                       "WHERE T1.age > 20")
    assert code == 0 and out.strip() == "SELECT FROM JOIN ON = WHERE >"


def test_align_json_contract(capsys, data_root, tmp_path) -> None:
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(json.dumps({"id": i, "sql": s}) for i, s in enumerate(
        ["SELECT name FROM singer", "SELECT count(*) FROM singer WHERE age > 3"])))
    code, out, _ = run(capsys, "align", "--train", "spider:train", "--train", "bird:dev",
                       "--target", "spider:dev", "--preds", str(preds), "--target-sample", "100",
                       "--max-n", "6", "--json", "--out", str(tmp_path / "rep"))
    assert code == 0
    report = json.loads(out)
    pair = report["pairs"][0]
    assert set(pair) >= {"source", "target", "kl", "alignment", "ovlp", "jaccard", "n_source",
                         "n_target", "unparsed_source", "unparsed_target"}
    assert pair["n_target"] == 100
    a = {p["source"]: p["alignment"] for p in report["pairs"]}
    assert a["spider:train"] > a["bird:dev"]
    assert {r["train"] for r in report["ar"]} == {"spider:train", "bird:dev"}
    assert report["config"]["max_n"] == 6
    for name in ("report.json", "report.md", "report.html", "config.yaml"):
        assert (tmp_path / "rep" / name).exists()
    assert "<svg" in (tmp_path / "rep" / "report.html").read_text()


def test_user_errors_are_one_line(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "align", "--train", "nosuch:x", "--target", "spider:dev")
    assert code == 2 and err.count("\n") == 1 and "unknown dataset" in err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run(capsys, "align", "--train", f"file:{empty}", "--target", f"file:{empty}")
    assert code == 2 and "no usable records" in err and "Traceback" not in err


def test_select_command(capsys, data_root, tmp_path) -> None:
    out_file = tmp_path / "subset.jsonl"
    code, out, _ = run(capsys, "select", "--pool", "geoquery:all", "--pool", "spider:dev",
                       "--target", "spider:train", "--target-sample", "200", "--k", "100",
                       "--out", str(out_file), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["n_selected"] == 100 and len(out_file.read_text().splitlines()) == 100
    assert summary["a_selected"] > summary["a_random"]
    # GeoQuery's questions that Spider's training set repeats are never selected for it
    from alignsql.data import registry
    from alignsql.data.overlap import question_key, question_keys
    target = question_keys(registry.load("spider:train", str(data_root)).examples)
    picked = [json.loads(line)["question"] for line in out_file.read_text().splitlines()]
    assert summary["n_excluded"] >= 403 and not {question_key(q) for q in picked} & target


def test_data_list(capsys, data_root) -> None:
    code, out, _ = run(capsys, "data", "list", "--json")
    rows = {r["spec"]: r for r in json.loads(out)}
    assert code == 0 and rows["spider:dev"]["examples"] == 1034
    assert rows["spider:dev"]["databases"] == 19  # 20 dev databases, wta_1 missing
