from collections import Counter

from alignsql.data.example import Column, Example, ForeignKey, Schema, Table
from alignsql.lrsql.data import balance_none, link_records, sqlgen_records, sub_schema
from alignsql.lrsql.slicing import slice_schema
from alignsql.models.prompts import PromptOptions


class NoTemplate:
    chat_template = None

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


def _schema() -> Schema:
    names = ["singer", "concert", "stadium", "song", "album", "label"]
    return Schema("m", [Table(n, [Column("id", "INT"), Column("x", "TEXT")]) for n in names],
                  [ForeignKey("concert", "id", "stadium", "id")])


def test_link_records_answers_per_slice_with_and_without_hint() -> None:
    schema = _schema()
    slicing = slice_schema(schema, lambda s: len(s.split()), budget=12)
    ex = Example("q?", "SELECT * FROM singer JOIN album ON singer.id = album.id", "m", id="7")
    skipped: Counter = Counter()
    recs = link_records([ex, Example("q", "SELECT 1 FROM ghost", "m", id="8")], schema, slicing,
                        NoTemplate(), skipped)
    assert skipped["gold SQL names no table of the schema"] == 1
    where = {t: i for i, s in enumerate(slicing.slices) for t in s}
    first = min(where["singer"], where["album"])
    plain = [r for r in recs if "earlier parts" not in r["prompt"]]
    hinted = [r for r in recs if "earlier parts" in r["prompt"]]
    assert len(plain) == len(slicing.slices)
    assert len(hinted) == len(slicing.slices) - first - 1  # only after a slice with gold tables
    answers = {r["slice"]: r["completion"] for r in plain}
    assert "singer" in answers[where["singer"]] and "album" in answers[where["album"]]
    assert all(a == "none" for i, a in answers.items() if i not in (where["singer"], where["album"]))


def test_sqlgen_records_use_gold_plus_linked_tables_only() -> None:
    schema = _schema()
    ex = Example("q?", "SELECT x FROM concert", "m", id="1")
    recs = sqlgen_records([ex], schema, {"1": ["label"]}, NoTemplate(),
                          PromptOptions(sample_values=0), Counter())
    prompt = recs[0]["prompt"]
    assert "CREATE TABLE concert" in prompt and "CREATE TABLE label" in prompt
    assert "CREATE TABLE singer" not in prompt and recs[0]["completion"].startswith("SELECT x")
    assert [t.name for t in sub_schema(schema, ["stadium", "concert"]).tables] == ["concert", "stadium"]


def test_balance_none_keeps_every_positive_and_ratio_of_none() -> None:
    """2 samples name a table, 6 answer none; 2 none per positive keeps 4 of the 6 (2 left
    out), positives and original order intact; null keeps all; a ratio above the supply keeps
    every none sample; the same seed picks the same ones."""
    recs = [{"completion": c, "i": i} for i, c in enumerate(
        ["none", "singer", "none", "none", "concert, stadium", "none", "none", "none"])]
    kept, left_out = balance_none(recs, 2.0, seed=0)
    assert left_out == 2 and len(kept) == 6
    assert [r["i"] for r in kept] == sorted(r["i"] for r in kept)
    assert {1, 4} <= {r["i"] for r in kept}
    assert sum(r["completion"] == "none" for r in kept) == 4
    assert balance_none(recs, None, seed=0) == (recs, 0)
    assert balance_none(recs, 10.0, seed=0) == (recs, 0)
    assert balance_none(recs, 2.0, seed=0) == (kept, 2)
    assert balance_none(recs, 0.0, seed=0)[0] == [recs[1], recs[4]]


def test_link_records_share_their_slice_prefix() -> None:
    """Every question's link prompt on a slice starts with that slice's shared prefix (what
    prefix-shared training groups by and the walk caches)."""
    schema = _schema()
    slicing = slice_schema(schema, lambda s: len(s.split()), budget=12)
    exs = [Example(f"q{i}?", "SELECT * FROM singer", "m", id=str(i)) for i in range(3)]
    recs = link_records(exs, schema, slicing, NoTemplate(), Counter())
    for i in range(len(slicing.slices)):
        on_slice = [r for r in recs if r["slice"] == i]
        assert len({r["prefix"] for r in on_slice}) == 1 and on_slice[0]["prefix"]
        assert all(r["prompt"].startswith(r["prefix"]) for r in on_slice)


def test_sql_generator_prompt_budget_is_the_same_in_training_and_inference(monkeypatch) -> None:
    """The SQL generator's prompts are built with one budget at training (its stage config,
    saved to prompt.json) and at inference (generate_sql); they differed (608 vs 768)."""
    from alignsql.data.merge import Merged
    from alignsql.lrsql import run as lrsql_run
    from alignsql.lrsql.config import LRSQLConfig
    cfg = LRSQLConfig()
    seen = []

    def fake_build(ex, schema, tok, opts, *a, **k):
        seen.append(opts.max_prompt_tokens)
        from alignsql.models.prompts import Prompt
        return Prompt("p", 1, "", [])
    monkeypatch.setattr(lrsql_run, "build", fake_build)
    monkeypatch.setattr(lrsql_run, "_generator", lambda model, cfg, max_new_tokens: (
        lambda prompts, prefix=None: ["SELECT 1"] * len(prompts), NoTemplate()))
    ex = Example("q?", "SELECT x FROM concert", "m", id="1")
    lrsql_run.generate_sql("model", [ex], Merged(_schema(), None, {}), {"1": ["concert"]}, cfg)
    assert seen == [cfg.stage("sqlgen", cfg.sqlgen_max_length).prompt_budget] == [608]


def test_training_keys_reach_both_stages_and_bad_ones_are_errors() -> None:
    """Trackers, LoRA and optimizer keys reach the link and SQL-generation stages' SFT
    settings (the defaults are SFT's, which both stages trained with before these were keys);
    a bad value is a one-line error naming the key, at load, not when a stage starts."""
    import pytest

    from alignsql.errors import AlignSQLError
    from alignsql.lrsql.config import LRSQLConfig
    from alignsql.train.config import SFTConfig
    keys = dict(report_to=["mlflow"], lora_r=8, lora_alpha=16, lora_dropout=0.0,
                lora_targets="q_proj,v_proj", warmup_ratio=0.1, weight_decay=0.01,
                optimizer="adamw_torch_fused", lr_scheduler="linear")
    cfg = LRSQLConfig(**keys)
    for stage in (cfg.stage("link", 1024), cfg.stage("sqlgen", 768)):
        assert {k: getattr(stage, k) for k in keys} == keys
    default, sft = LRSQLConfig().stage("link", 1024), SFTConfig()
    assert all(getattr(default, k) == getattr(sft, k) for k in keys)
    with pytest.raises(AlignSQLError, match="report_to: unknown tracker"):
        LRSQLConfig(report_to=["wandbb"])
    with pytest.raises(AlignSQLError, match="lr_scheduler"):
        LRSQLConfig(lr_scheduler="cosin")
