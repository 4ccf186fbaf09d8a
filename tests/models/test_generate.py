import json

from alignsql.data.example import Dataset, Example
from alignsql.data.schema import from_sqlite
from alignsql.models.generate import GenOptions, PrefixCache, Request, generate, stream
from alignsql.models.loading import load
from alignsql.models.predict import PredictConfig, predict


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


def test_continuous_batching_matches_one_prompt_at_a_time(sharp_model_dir) -> None:
    """Two slots for five prompts of different lengths: rows retire and new ones join a
    running, left-padded batch; greedy output must equal each prompt decoded alone with
    transformers' own generate."""
    lm = load(str(sharp_model_dir), dtype="fp32", device="cpu")
    prefix = "<|im_start|>user\n"
    prompts = [prefix + q + "<|im_end|>\n```sql\n" for q in
               ("a", "how many singers are there in total", "b c", "name the oldest singer", "x")]
    mine = generate(lm, prompts, GenOptions(max_new_tokens=10), prefix, PrefixCache(), slots=2)
    for prompt, got in zip(prompts, mine):
        enc = lm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        ref = lm.model.generate(**enc, max_new_tokens=10, do_sample=False,
                                pad_token_id=lm.tokenizer.pad_token_id,
                                stop_strings=["```", "\n\n"], tokenizer=lm.tokenizer)
        want = lm.tokenizer.decode(ref[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        assert got[0].text == want


def test_stream_yields_every_request_once(tiny_model_dir) -> None:
    lm = load(str(tiny_model_dir), dtype="fp32", device="cpu")
    reqs = [Request(f"q{i}", f"p{i % 2} question {'x ' * i}", f"p{i % 2}") for i in range(7)]
    got = list(stream(lm, reqs, GenOptions(max_new_tokens=5, num_samples=2, temperature=0.8), 3))
    assert sorted(k for k, _ in got) == sorted(r.key for r in reqs)
    assert all(len(g) == 2 and all(x.n_tokens <= 5 for x in g) for _, g in got)


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
