import json

from alignsql.data.example import Dataset, Example
from alignsql.data.schema import from_sqlite
from alignsql.models.generate import GenOptions, PrefixCache, generate
from alignsql.models.loading import load
from alignsql.models.predict import PredictConfig, plan_batches, predict


def test_batched_greedy_is_deterministic_and_prefix_cache_agrees(tiny_model_dir) -> None:
    lm = load(str(tiny_model_dir), dtype="fp32", device="cpu")
    prefix = "<|im_start|>system\nYou are an expert in SQLite.<|im_end|>\n<|im_start|>user\n"
    prompts = [prefix + q + "<|im_end|>\n<|im_start|>assistant\n```sql\n"
               for q in ("How many singers?", "Name the singers older than 20 please")]
    opts = GenOptions(max_new_tokens=12)
    plain = generate(lm, prompts, opts)
    cached = generate(lm, prompts, opts, prefix, PrefixCache())
    assert [g[0].text for g in plain] == [g[0].text for g in cached]
    assert all(0 < g[0].n_tokens <= 12 for g in plain)
    three = generate(lm, prompts, GenOptions(max_new_tokens=8, num_samples=3, temperature=1.0))
    assert [len(g) for g in three] == [3, 3]


def test_plan_batches_groups_shared_prefixes() -> None:
    items = ["a1", "a2", "a3", "b1", "c1", "d1"]
    plan = plan_batches(items, 2, key=lambda s: s[0])
    assert plan == [(["a1", "a2"], True), (["a3"], True), (["b1", "c1"], False), (["d1"], False)]


def test_predict_streams_and_resumes(tiny_model_dir, tmp_path) -> None:
    import sqlite3
    db = tmp_path / "cs.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT);"
                      "INSERT INTO singer VALUES (1, 'Ann');")
    con.close()
    ds = Dataset("t", [Example(f"question {i}?", "SELECT 1", "cs", id=str(i)) for i in range(5)],
                 schemas={"cs": from_sqlite(db, "cs")}, db_paths={"cs": db})
    lm = load(str(tiny_model_dir), dtype="fp32", device="cpu")
    out = tmp_path / "preds.jsonl"
    cfg = PredictConfig(model=str(tiny_model_dir), batch_size=2, max_new_tokens=6)
    stats = predict(lm, ds, ds.examples[:3], cfg, out)
    assert stats["answered"] == 3
    stats = predict(lm, ds, ds.examples, cfg, out)
    assert stats["answered"] == 2 and stats["resumed"] == 3
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in recs) == ["0", "1", "2", "3", "4"]
    assert all("sql" in r and "raw" in r for r in recs)  # no SQL is recorded as "", not dropped
