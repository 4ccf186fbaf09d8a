import json

from alignsql.models.predict import _resume


def test_torn_last_line_is_dropped_before_appending(tmp_path) -> None:
    """A killed run leaves '{"id": "b", "sq' without a newline: resuming must not append the
    next record to that fragment. The broken line is removed, b is answered again."""
    out = tmp_path / "preds.jsonl"
    out.write_text(json.dumps({"id": "a", "sql": "SELECT 1"}) + "\n" + '{"id": "b", "sq')
    done, dropped = _resume(out)
    assert done == {"a"} and dropped == 1
    with open(out, "a") as fh:
        fh.write(json.dumps({"id": "b", "sql": "SELECT 2"}) + "\n")
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b"]


def test_complete_record_without_newline_is_redone(tmp_path) -> None:
    out = tmp_path / "preds.jsonl"
    out.write_text(json.dumps({"id": "a", "sql": "SELECT 1"}))
    assert _resume(out) == (set(), 1) and out.read_text() == ""


def test_clean_file_is_left_alone(tmp_path) -> None:
    out = tmp_path / "preds.jsonl"
    text = json.dumps({"id": "a", "sql": "SELECT 1"}) + "\n"
    out.write_text(text)
    assert _resume(out) == ({"a"}, 0) and out.read_text() == text
