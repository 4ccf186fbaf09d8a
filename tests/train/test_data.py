"""Training records: the `refill` option that keeps a size when long examples are left out."""
import json

import pytest

from alignsql.errors import AlignSQLError
from alignsql.train.config import SFTConfig
from alignsql.train.data import build_training_data

LONG = "SELECT " + ", ".join(f"column_{i}" for i in range(300)) + " FROM t"


def _file(tmp_path, rows: list[tuple[str, str]]) -> str:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"question": q, "sql": sql, "db_id": "d"}) + "\n"
                            for q, sql in rows))
    return f"file:{path}"


@pytest.fixture
def tokenizer(tiny_model_dir):
    from alignsql.models.loading import load_tokenizer
    return load_tokenizer(str(tiny_model_dir))


def _data(spec: str, tokenizer, n: int, refill: bool, seed: int = 0):
    cfg = SFTConfig(train=[spec], train_size=[n], refill=refill, val_fraction=0.0,
                    max_length=256, seed=seed)
    return build_training_data(cfg, tokenizer)


def test_refill_replaces_long_examples_until_the_size_is_met(tmp_path, tokenizer,
                                                           monkeypatch) -> None:
    """10 examples, q0-q5 too long for 256 tokens, q6-q9 short; a sample of 4. Without refill
    only the short ones of the sample train (4 - long ones drawn). With refill every long one
    drawn is replaced until 4 fit: exactly the 4 short questions, whatever the seed; the long
    ones drawn stay counted, and ``refilled`` counts the replacement draws (drawn = 4 + long).
    The sample is seeded with the spec's text, so the file is named relative to the working
    directory (tmp_path's name changes from run to run, and with it the samples)."""
    _file(tmp_path, [(f"q{i}", LONG if i < 6 else f"SELECT a{i} FROM t") for i in range(10)])
    monkeypatch.chdir(tmp_path)
    spec = "file:d.jsonl"
    key = "example: prompt + completion longer than max_length=256"
    long_drawn = 0
    for seed in range(5):
        try:
            plain = _data(spec, tokenizer, 4, refill=False, seed=seed)
            fit = len(plain.train)
            assert fit + plain.skipped[key] == 4
        except AlignSQLError as exc:  # all 4 drawn were long: without refill nothing trains
            assert "no training example fits" in str(exc)
            fit = 0
        long_drawn += 4 - fit
        full = _data(spec, tokenizer, 4, refill=True, seed=seed)
        got = sorted(r["completion"].partition("\n")[0].strip() for r in full.train)
        assert got == [f"SELECT a{i} FROM t" for i in range(6, 10)], got
        assert full.refilled == full.skipped[key]
        assert sum(full.sources.values()) == 4 + full.refilled
    assert long_drawn > 0  # the plain samples did draw long ones: refill had work to do


def test_refill_stops_when_the_set_runs_out(tmp_path, tokenizer) -> None:
    """3 short of 8: asking for 5 gives the 3, every long one drawn and counted."""
    spec = _file(tmp_path, [(f"q{i}", LONG if i < 5 else "SELECT a FROM t") for i in range(8)])
    data = _data(spec, tokenizer, 5, refill=True)
    assert len(data.train) == 3
    assert data.skipped["example: prompt + completion longer than max_length=256"] == 5


def test_refill_changes_nothing_when_everything_fits(tmp_path, tokenizer) -> None:
    """Same sample, same order: a run that needs no replacement trains on the same records."""
    spec = _file(tmp_path, [(f"q{i}", f"SELECT a{i} FROM t") for i in range(12)])
    plain, full = (_data(spec, tokenizer, 5, refill=r) for r in (False, True))
    assert [r["id"] for r in plain.train] == [r["id"] for r in full.train]
    assert full.refilled == 0


def test_refill_without_a_size_is_refused() -> None:
    with pytest.raises(AlignSQLError, match="refill needs train_size"):
        SFTConfig(refill=True)


def test_sources_name_each_file(tmp_path, tokenizer) -> None:
    """Two synthesis-round files of 2 and 3 examples: data.json's sources count each under its
    own path (both used to fold into one ``file:file`` entry of 5)."""
    first = tmp_path / "a"
    first.mkdir()
    a = _file(first, [("q0", "SELECT a FROM t"), ("q1", "SELECT b FROM t")])
    b = _file(tmp_path, [(f"r{i}", f"SELECT c{i} FROM t") for i in range(3)])
    cfg = SFTConfig(train=[a, b], train_size=[2, 3], val_fraction=0.0, max_length=256)
    assert build_training_data(cfg, tokenizer).sources == {a: 2, b: 3}
