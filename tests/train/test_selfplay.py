"""Self-play on the tiny random Llama with a fixture database: pairs judged by execution, the
pool roles, the trainer's loss, and one full iteration."""
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
import torch

from alignsql.errors import AlignSQLError
from alignsql.train.config import SelfPlayConfig
from alignsql.train.selfplay import build_pairs, choose


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "cs.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, age INT);")
    con.executemany("INSERT INTO singer VALUES (?, ?, ?)", [(i, f"n{i}", 20 + i) for i in range(9)])
    con.commit()
    con.close()
    return path


def _questions(db: Path) -> list[dict]:
    return [{"prompt": "p1", "completion": "SELECT count(*) FROM singer\n```", "id": "1",
             "gold": "SELECT count(*) FROM singer", "db": str(db)},
            {"prompt": "p2", "completion": "x", "id": "2", "gold": "SELECT nope FROM singer",
             "db": str(db)}]


@pytest.mark.parametrize("loss, expected", [
    # the correct sample stays a pull-only pair; the wrong one and the one with no SQL, R = 1
    ("spft", [0.0, 1.0, 1.0]),
    ("spin", [1.0, 1.0, 1.0]),  # SPIN treats every generated answer as wrong
    ("dpo", [1.0, 1.0]),        # DPO keeps (gold, wrong) pairs only
])
def test_pairs_are_judged_by_execution(db, loss, expected) -> None:
    cfg = SelfPlayConfig(pool=["m"], loss=loss)
    samples = [["SELECT COUNT(singer_id) FROM singer", "SELECT max(age) FROM singer", ""],
               ["SELECT 1"]]
    counts: Counter = Counter()
    pairs = build_pairs(cfg, _questions(db), samples, counts)
    assert [p["wrong"] for p in pairs] == expected
    assert counts["unparsable samples (counted wrong)"] == 1
    assert pairs[-1]["rejected"] == "\n```"  # the empty reply is what gets pushed down
    assert counts["gold fails to execute (question skipped)"] == 1


def test_pool_roles() -> None:
    cfg = SelfPlayConfig(pool=["a", "b", "c"])
    assert choose(cfg, {"a": 0.2, "b": 0.5, "c": 0.1}, "c")[:2] == ("b", "c")
    main, opp, note = choose(cfg, {"a": 0.3}, "a")
    assert main == opp == "a" and "main = opponent" in note
    spin = SelfPlayConfig(pool=["a", "b"], loss="spin")
    assert choose(spin, {"a": 0.9, "b": 0.1}, "b")[:2] == ("b", "b")


def test_bad_config() -> None:
    with pytest.raises(AlignSQLError, match="pool"):
        SelfPlayConfig()
    with pytest.raises(AlignSQLError, match="loss must be"):
        SelfPlayConfig(pool=["m"], loss="ppo")


def test_trackers_reach_the_trainer_and_unknown_ones_are_errors(tmp_path) -> None:
    """report_to works as in SFT: named trackers reach every iteration's trainer, none by
    default, and a misspelt one is a one-line error naming the key."""
    from alignsql.train.selfplay import _args
    cfg = SelfPlayConfig(pool=["m"], report_to=["tensorboard"])
    assert _args(cfg, tmp_path, "cpu").report_to == ["tensorboard"]
    assert _args(SelfPlayConfig(pool=["m"]), tmp_path, "cpu").report_to == []
    with pytest.raises(AlignSQLError, match="report_to: unknown tracker"):
        SelfPlayConfig(pool=["m"], report_to=["tensorbord"])


def test_schedule_and_optimizer_reach_the_trainer(tmp_path) -> None:
    """The optimizer keys reach every iteration's trainer; the defaults are what self-play
    trained with before they were keys (cosine, 10% warm-up, transformers' fused AdamW, no
    weight decay), so earlier runs keep their recipe; bad values are one-line errors."""
    from alignsql.train.selfplay import _args
    default = _args(SelfPlayConfig(pool=["m"]), tmp_path, "cpu")
    assert (default.lr_scheduler_type, default.warmup_steps, default.optim,
            default.weight_decay) == ("cosine", 0.1, "adamw_torch_fused", 0.0)
    cfg = SelfPlayConfig(pool=["m"], lr_scheduler="linear", warmup_ratio=0.0,
                         optimizer="adamw_torch", weight_decay=0.01)
    args = _args(cfg, tmp_path, "cpu")
    assert (args.lr_scheduler_type, args.warmup_steps, args.optim, args.weight_decay) == (
        "linear", 0.0, "adamw_torch", 0.01)
    for bad, key in ((dict(lr_scheduler="cosin"), "lr_scheduler"),
                     (dict(optimizer="adamw"), "optimizer"),
                     (dict(warmup_ratio=1.5), "warmup_ratio"),
                     (dict(weight_decay=-1.0), "weight_decay")):
        with pytest.raises(AlignSQLError, match=key):
            SelfPlayConfig(pool=["m"], **bad)


def test_dpo_reference_is_the_starting_model() -> None:
    """From iteration 2 on, DPO's reference stays the starting model (the latest trains)."""
    cfg = SelfPlayConfig(pool=["start"], loss="dpo")
    main, opp, _ = choose(cfg, {"iter1": float("nan")}, "iter1")
    assert (main, opp) == ("iter1", "start")
    spin = SelfPlayConfig(pool=["start"], loss="spin")
    assert choose(spin, {"iter1": float("nan")}, "iter1")[:2] == ("iter1", "iter1")


def test_early_stop_returns_the_best_model(tmp_path, monkeypatch) -> None:
    """Iteration 1's model scores below the start on validation: the run stops and its final
    model is the start, not the model that failed to improve."""
    from alignsql.train import selfplay
    scores = {"start": 0.5, "iter1-model": 0.4}
    monkeypatch.setattr(selfplay, "val_ex", lambda cfg, model, out: scores[model])
    def one_iteration(cfg, it, main, opp, out, resume, log, progress=False):
        (out / f"iter{it}").mkdir(parents=True, exist_ok=True)
        return {"iteration": it, "n_pairs": 3, "counts": {}, "merged": f"iter{it}-model"}
    monkeypatch.setattr(selfplay, "iteration", one_iteration)
    cfg = SelfPlayConfig(name="es", output_dir=str(tmp_path), pool=["start"], loss="spin",
                         iterations=3, early_stop=True)
    result = selfplay.train(cfg)
    assert len(result["iterations"]) == 1 and result["final"] == "start"
    again = selfplay.train(cfg, resume=True)  # a second process: its time adds to the first's
    assert again["final"] == "start" and again["all_processes"]["processes"] == 2


def test_opponent_logps_in_mains_precision(tiny_model_dir) -> None:
    """A model playing itself starts at log-ratio 0 under bf16 autocast: the opponent's
    log-probabilities are computed as main computes its own, so every pair's loss is
    l(0) = log 2 = 0.693147 (with fp32 opponent log-probabilities it is not)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignsql.train.losses import member_logps
    from alignsql.train.preference import (
        PreferenceCollator,
        pair_loss,
        question_groups,
        steps,
        tokenize_group,
        with_opponent_logps,
    )
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    pairs = [{"id": "1", "prompt": "How many singers?", "chosen": "SELECT count(*) FROM singer",
              "rejected": r, "wrong": 1.0} for r in ("SELECT 1", "SELECT name FROM singer")]
    collator = PreferenceCollator(tok.pad_token_id)
    items = with_opponent_logps(steps([tokenize_group(g, tok) for g in question_groups(pairs)],
                                      1), model, collator, bf16=True)
    batch = collator(items)
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        loss = pair_loss(member_logps(model, batch), batch, lam=1.0)
    assert loss.item() == pytest.approx(0.6931472, abs=1e-6)


def test_member_logps_sum_each_answers_tokens(tiny_model_dir) -> None:
    """Against log_softmax of the model's full logits on each answer run alone: prefix
    [5, 6], member 1 = rest [7] + answer [8, 9], member 2 = rest [7] + answer [3]; log p of an
    answer sums its tokens' log-probabilities given everything before them."""
    from transformers import AutoModelForCausalLM

    from alignsql.train.losses import member_logps
    from alignsql.train.prefix import GroupCollator, batch_item
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    recs = [{"prefix_ids": [5, 6], "rest_ids": [7], "completion_ids": c} for c in ([8, 9], [3])]
    batch = GroupCollator(0)([batch_item(recs, [[0, 1]])])
    with torch.no_grad():
        got = member_logps(model, batch)
        want = []
        for rec in recs:
            ids = torch.tensor([[5, 6, 7, *rec["completion_ids"]]])
            logp = model(input_ids=ids).logits.log_softmax(-1)[0]
            want.append(sum(logp[t - 1, ids[0, t]] for t in range(3, ids.shape[1])))
    assert torch.allclose(got, torch.stack(want), atol=1e-4)


def _train_file(tmp_path: Path, db: Path) -> str:
    f = tmp_path / "train.jsonl"
    rows = [{"question": f"How many singers are older than {20 + i}?",
             "sql": f"SELECT count(*) FROM singer WHERE age > {20 + i}", "db_id": "cs",
             "db_path": str(db)} for i in range(6)]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"file:{f}"


def test_one_iteration_moves_gold_up_and_wrong_down(tmp_path, db, tiny_model_dir) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignsql.train.losses import member_logps
    from alignsql.train.preference import (
        PreferenceCollator,
        question_groups,
        steps,
        tokenize_group,
    )
    from alignsql.train.selfplay import train

    spec = _train_file(tmp_path, db)
    cfg = SelfPlayConfig(name="sp", output_dir=str(tmp_path / "runs"), pool=[str(tiny_model_dir)],
                         train=[spec], train_size=[6], val=spec, val_limit=3, k=2,
                         max_new_tokens=8, max_steps=6, batch_size=2, grad_accum=1,
                         learning_rate=5e-3, lam=1.0, method="full", max_length=256,
                         dtype="fp32", device="cpu", iterations=2, early_stop=False,
                         save_steps=100)
    summary = train(cfg)
    run = Path(summary["run"])
    it = summary["iterations"][0]
    # iteration 2 re-ranks a pool of two: the base and iteration 1's model (its fresh samples
    # may hold no contrast on this tiny model: the run then stops with iteration 1's model)
    assert len(summary["iterations"]) == 2 and len(summary["val_scores"]) == 2
    assert it["n_pairs"] > 0 and Path(it["merged"]).is_dir() and Path(summary["final"]).is_dir()
    assert (run / "config.yaml").exists() and (run / "iter1" / "metrics.jsonl").exists()
    rows = [json.loads(x) for x in (run / "iter1" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["loss"] is None or r["loss"] == r["loss"] for r in rows)  # finite or absent
    # every tiny-model sample is wrong: after training, gold log-prob rises and the wrong
    # samples' falls, relative to the frozen opponent (the starting model)
    pairs = [json.loads(x) for x in (run / "iter1" / "pairs.jsonl").read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    groups = question_groups(pairs)
    items = steps([tokenize_group(g, tok) for g in groups], len(groups))
    batch = PreferenceCollator(tok.pad_token_id)(items)
    logps = {}
    for name, path in (("before", tiny_model_dir), ("after", it["merged"])):
        m = AutoModelForCausalLM.from_pretrained(path).eval()
        with torch.no_grad():
            lp = member_logps(m, batch)
        logps[name] = (lp[batch["gold_index"]], lp[batch["gen_index"]])
    wrong = batch["wrong"].bool()
    assert wrong.any()
    assert (logps["after"][0] - logps["before"][0]).mean() > 0
    assert (logps["after"][1] - logps["before"][1])[wrong].mean() < 0


def test_lora_with_recomputed_activations_still_learns(tmp_path, db, tiny_model_dir,
                                                       capsys) -> None:
    """gradient_checkpointing reaches the trainer, and LoRA on a frozen base still gets
    gradients through the recomputed blocks: the merged weights move. With ``progress`` the
    three slow stages show bars with ETA on stderr."""
    from safetensors.torch import load_file

    from alignsql.train.selfplay import _args, train

    spec = _train_file(tmp_path, db)
    cfg = SelfPlayConfig(name="gc", output_dir=str(tmp_path / "runs"), pool=[str(tiny_model_dir)],
                         train=[spec], train_size=[4], val=spec, val_limit=2, k=2,
                         max_new_tokens=6, max_steps=2, batch_size=2, grad_accum=1,
                         learning_rate=5e-2, lam=1.0, method="lora", max_length=256,
                         dtype="fp32", device="cpu", iterations=1, early_stop=False,
                         gradient_checkpointing=True, save_steps=100)
    assert _args(cfg, tmp_path, "cpu").activation_checkpointing
    summary = train(cfg, progress=True)
    err = capsys.readouterr().err
    assert all(f"{stage}: 100%" in err for stage in ("sampling", "opponent log-probs",
                                                       "training"))
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(Path(summary["iterations"][0]["merged"]) / "model.safetensors"))
    moved = [k for k in before if k in after and not torch.equal(before[k], after[k])]
    assert any("proj" in k for k in moved)


class _Killed(Exception):
    pass


def test_sampling_resumes_from_its_record(tmp_path, monkeypatch) -> None:
    """A run killed after 2 of 4 questions were sampled (plus a torn line) samples only the
    other 2 when it starts again; every question ends with its k samples."""
    from alignsql.models import engines
    from alignsql.models.generate import Generation
    from alignsql.train.selfplay import sample_opponent

    asked: list[list[int]] = []

    class Fake:
        def __init__(self, die_after: int | None) -> None:
            self.die_after = die_after

        def stream(self, reqs, opts, slots=8):
            reqs = list(reqs)
            asked.append([r.key for r in reqs])
            for n, r in enumerate(reqs):
                if n == self.die_after:
                    raise _Killed
                yield r.key, [Generation(f"```sql\nSELECT {r.key}\n```", 3)] * opts.num_samples

    questions = [{"prompt": f"p{i}", "prefix": "", "id": f"q{i}"} for i in range(4)]
    cfg = SelfPlayConfig(name="t", output_dir=str(tmp_path), pool=["a", "b"], train=["x"], k=2)
    record = tmp_path / "samples.jsonl"
    monkeypatch.setattr(engines, "open_engine", lambda *a: Fake(die_after=2))
    with pytest.raises(_Killed):
        sample_opponent(cfg, "b", questions, 1, record)
    with open(record, "a") as f:
        f.write('{"i": 2, "id": "q2", "sampl')  # killed mid-write
    monkeypatch.setattr(engines, "open_engine", lambda *a: Fake(die_after=None))
    out = sample_opponent(cfg, "b", questions, 1, record)
    assert asked == [[0, 1, 2, 3], [2, 3]]
    assert [[sql for sql, _ in s] for s in out] == [[f"SELECT {i}"] * 2 for i in range(4)]
    assert sample_opponent(cfg, "b", questions, 1, record) == out and len(asked) == 2


def test_sampling_refuses_a_record_of_other_questions(tmp_path) -> None:
    from alignsql.train.selfplay import recorded_samples

    record = tmp_path / "samples.jsonl"
    record.write_text('{"i": 0, "id": "other", "samples": [["SELECT 1", "x"]]}\n')
    with pytest.raises(AlignSQLError, match="not one of this run's"):
        recorded_samples(record, [{"id": "q0"}])


def test_a_resumed_iteration_reuses_the_opponents_logps(tmp_path, tiny_model_dir,
                                                        monkeypatch) -> None:
    """The opponent's log-probabilities are kept beside the iteration: building the trainer
    again (a killed run resumed) gives the same numbers without loading the opponent; other
    pairs (another digest) load it and compute them again."""
    import shutil

    from alignsql.models import loading
    from alignsql.train.selfplay import build_trainer

    opponent = tmp_path / "opponent"
    shutil.copytree(tiny_model_dir, opponent)
    pairs = [{"id": str(i), "prompt": f"question {i}", "chosen": "SELECT 1",
              "rejected": f"SELECT {i}", "wrong": 1.0} for i in range(3)]
    cfg = SelfPlayConfig(name="r", output_dir=str(tmp_path), pool=[str(tiny_model_dir)],
                         train=["x"], batch_size=2, method="full", dtype="fp32", device="cpu")
    loads, real = [], loading.load
    monkeypatch.setattr(loading, "load", lambda path, **kw: loads.append(path) or real(path, **kw))

    def refs(pairs) -> list:
        trainer = build_trainer(cfg, pairs, str(tiny_model_dir), str(opponent), tmp_path, 1)[0]
        return list(trainer.train_dataset["ref"])

    first = refs(pairs)
    assert loads.count(str(opponent)) == 1 and (tmp_path / "opponent_logps.json").exists()
    assert refs(pairs) == first and loads.count(str(opponent)) == 1
    refs(pairs[:2])
    assert loads.count(str(opponent)) == 2
