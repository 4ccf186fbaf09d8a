"""Prefix-shared training: grouping, packing, the block mask, and exactness against the same
examples run one by one (loss, every gradient, optimizer steps), on the tiny random Llama."""
import random

import pytest
import torch

from alignsql.train.prefix import (
    GroupCollator,
    batch_item,
    block_mask,
    make_batches,
    make_groups,
    pack,
    sharing_stats,
    unpack,
)


def _rec(prefix, rest, completion):
    return {"prefix_ids": list(prefix), "rest_ids": list(rest), "completion_ids": list(completion)}


def test_pack_layout_by_hand() -> None:
    """Prefix [1, 2]; member 1: rest [3], completion [4, 5]; member 2: rest [6, 7], completion
    [8]. Row: 1 2 | 3 4 5 | 6 7 8; positions 0 1 | 2 3 4 | 2 3 4; labels only on 4 5 and 8."""
    unit = pack([_rec([1, 2], [3], [4, 5]), _rec([1, 2], [6, 7], [8])])
    assert unit["input_ids"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert unit["position_ids"] == [0, 1, 2, 3, 4, 2, 3, 4]
    assert unit["labels"] == [-100, -100, -100, 4, 5, -100, -100, 8]
    assert unit["seg"] == [0, 0, 1, 1, 1, 2, 2, 2]
    assert unit["example_tokens"] == 5 + 5
    rows = unpack(unit)
    assert [r["input_ids"] for r in rows] == [[1, 2, 3, 4, 5], [1, 2, 6, 7, 8]]
    assert [r["position_ids"] for r in rows] == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
    with pytest.raises(ValueError, match="share"):
        pack([_rec([1], [2], [3]), _rec([9], [2], [3])])


def test_block_mask_by_hand() -> None:
    """seg = [0, 0, 1, 1, 2, -1]: prefix tokens see the earlier prefix; member 1 sees the
    prefix and itself; member 2 sees the prefix and itself, not member 1; padding sees only
    itself and nobody sees padding."""
    m = block_mask(torch.tensor([[0, 0, 1, 1, 2, -1]]))[0, 0].int().tolist()
    assert m == [[1, 0, 0, 0, 0, 0],
                 [1, 1, 0, 0, 0, 0],
                 [1, 1, 1, 0, 0, 0],
                 [1, 1, 1, 1, 0, 0],
                 [1, 1, 0, 0, 1, 0],
                 [0, 0, 0, 0, 0, 1]]


def test_groups_balanced_within_budget_and_seeded() -> None:
    """60 members of one prefix, group_size 16: 4 groups of 15 (not 16+16+16+12). A token
    budget splits further. Records without a prefix stay alone. Same seed, same groups."""
    recs = [_rec([1] * 10, [2] * 3, [3] * 2) for _ in range(60)] + [_rec([], [5], [6])] * 2
    groups = make_groups(recs, 16, 10_000, seed=0)
    sizes = sorted(len(g) for g in groups)
    assert sizes == [1, 1, 15, 15, 15, 15]
    assert sorted(i for g in groups for i in g) == list(range(62))
    assert make_groups(recs, 16, 10_000, seed=0) == groups
    # budget: prefix 10 + 5 per member; 40 tokens hold 6 members
    assert max(len(g) for g in make_groups(recs[:60], 16, 40, seed=0)) == 6
    assert all(len(g) == 1 for g in make_groups(recs, 1, 10_000, seed=0))
    stats = sharing_stats(recs, groups)
    assert stats["tokens_alone"] == 60 * 15 + 2 * 2
    assert stats["tokens_shared"] == 4 * (10 + 15 * 5) + 2 * 2


def test_batches_never_split_a_group_nor_exceed_batch_size() -> None:
    recs = [_rec([i % 3 + 1] * 4, [7], [8]) for i in range(30)]
    groups = make_groups(recs, 4, 10_000, seed=1)
    for by_length in (False, True):
        batches = make_batches(recs, groups, 6, by_length, seed=1)
        assert all(sum(len(g) for g in b) <= 6 for b in batches)
        assert sorted(tuple(g) for b in batches for g in b) == sorted(tuple(g) for g in groups)


def _records(tok, n_prefixes: int, per_prefix: int, seed: int = 0) -> list[dict]:
    """Records of several schemas, questions and SQL of different lengths (padding)."""
    rng = random.Random(seed)
    enc = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    out = []
    for p in range(n_prefixes):
        prefix = enc(f"CREATE TABLE singer{p} (id INT, name TEXT, age INT);" * (p + 1))
        for q in range(per_prefix):
            rest = enc("Question: How many singers are older than " + "9" * rng.randint(1, 6))
            sql = enc(f"SELECT count(*) FROM singer{p} WHERE age > {rng.randint(1, 10**q + 1)}")
            out.append(_rec(prefix, rest, sql + [tok.eos_token_id]))
    return out


def _model(path, method: str):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if method == "lora":
        from peft import LoraConfig, get_peft_model
        torch.manual_seed(1)
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                 init_lora_weights=False))
    return model.train()


def _loss_and_grads(model, batch: dict) -> tuple[torch.Tensor, dict]:
    from alignsql.train.losses import completion_loss
    model.zero_grad()
    loss = completion_loss(model, {k: v for k, v in batch.items() if k != "n_tokens"})
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), grads


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> bool:
    return bool((a - b).abs().max() <= rel * max(b.abs().max().item(), 1e-6))


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize("group_size", [1, 2, 8])
def test_shared_batch_equals_members_alone(sharp_model_dir, method, group_size) -> None:
    """Loss and every parameter gradient of a prefix-shared step equal those of the same
    examples run one row each (fp32, 1e-5 relative): groups of 1, 2 and many, several groups
    per step (right padding), sharp attention so that a wrong mask or position would show."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(sharp_model_dir)
    recs = _records(tok, n_prefixes=3, per_prefix=5)
    groups = make_groups(recs, group_size, 10_000, seed=0)
    item = batch_item(recs, [g for g in groups])  # every example in one step
    model = _model(sharp_model_dir, method)
    shared = GroupCollator(tok.pad_token_id, share_prefix=True)([item])
    alone = GroupCollator(tok.pad_token_id, share_prefix=False)([item])
    assert alone["input_ids"].shape[0] == len(recs)
    assert shared["input_ids"].shape[0] == len(groups)
    loss_s, grads_s = _loss_and_grads(model, shared)
    loss_a, grads_a = _loss_and_grads(model, alone)
    assert _close(loss_s, loss_a)
    assert grads_s.keys() == grads_a.keys() and grads_s
    for name in grads_a:
        assert _close(grads_s[name], grads_a[name]), name
    if group_size > 1:
        assert shared["n_tokens"] < alone["n_tokens"]


def test_eager_attention_gets_an_additive_mask(sharp_model_dir) -> None:
    """The same equality through eager attention, which adds the mask to the scores."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(sharp_model_dir)
    recs = _records(tok, n_prefixes=2, per_prefix=3)
    item = batch_item(recs, make_groups(recs, 3, 10_000, seed=0))
    model = AutoModelForCausalLM.from_pretrained(sharp_model_dir, dtype=torch.float32,
                                                 attn_implementation="eager")
    loss_s, _ = _loss_and_grads(model, GroupCollator(tok.pad_token_id, True, "eager")([item]))
    loss_a, _ = _loss_and_grads(model, GroupCollator(tok.pad_token_id, False, "eager")([item]))
    assert _close(loss_s, loss_a)


@pytest.mark.parametrize("method,optimizer,lr", [("full", "adamw_torch", 1e-3),
                                                 ("full", "sgd", 1e-2), ("lora", "sgd", 1e-2)])
def test_optimizer_steps_give_the_same_weights(tmp_path, sharp_model_dir, method, optimizer,
                                               lr) -> None:
    """Three optimizer steps through the real SFT trainer, from the same seed, with the prefix
    shared and with every member run in full: the same weights (1e-5 relative to the largest
    weight of each tensor). No LoRA dropout: its random masks would differ with the layout.
    Adam divides by sqrt(v), so float noise in a near-zero gradient becomes a step of up to lr
    either way; LoRA's B starts at zero, so its first Adam step is all such +-lr steps: Adam is
    checked on full weights at a small lr, LoRA with SGD (linear in the gradient)."""
    import json

    from alignsql.train import sft
    from alignsql.train.config import SFTConfig
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps({"question": f"How many singers are older than {i}?",
                                       "sql": f"SELECT count(*) FROM singer WHERE age > {i * 7}",
                                       "db_id": "x"}) for i in range(24)))
    weights = []
    for share in (True, False):
        cfg = SFTConfig(name=f"s{share}", output_dir=str(tmp_path / "runs"),
                        model=str(sharp_model_dir), train=[f"file:{f}"], max_length=256,
                        batch_size=8, group_size=4, max_steps=3, dtype="fp32", device="cpu",
                        learning_rate=lr, val_fraction=0.0, method=method, lora_dropout=0.0,
                        optimizer=optimizer,
                        share_prefix=share, save_steps=100, logging_steps=1)
        out, lm, data = sft.setup(cfg, resume=False)
        trainer, _, _ = sft.fit(cfg, out, lm, data, resume=False)
        weights.append({n: p.detach().clone() for n, p in trainer.model.named_parameters()
                        if p.requires_grad})
        groups = json.loads((out / "groups.json").read_text())
        assert groups["mean_group_size"] == 4 and groups["token_saving"] > 1
    for name in weights[0]:
        assert _close(weights[0][name], weights[1][name]), name


@pytest.mark.parametrize("method", ["full", "lora"])
def test_preference_loss_shared_equals_alone(sharp_model_dir, method) -> None:
    """The error-driven pair loss (gold and k samples of a question in one row, the prompt
    once) and every gradient equal those with every answer run on its own row; questions with
    1 and 3 samples, so rows are padded."""
    from transformers import AutoTokenizer

    from alignsql.train.losses import member_logps
    from alignsql.train.preference import (
        PreferenceCollator,
        pair_loss,
        question_groups,
        steps,
        tokenize_group,
    )
    tok = AutoTokenizer.from_pretrained(sharp_model_dir)
    pairs = [{"id": "1", "prompt": "How many singers?\n```sql\n",
              "chosen": "SELECT count(*) FROM singer\n```", "rejected": r, "wrong": w}
             for r, w in (("SELECT 1\n```", 1.0), ("SELECT count(*) FROM t\n```", 0.0),
                          ("SELECT name FROM singer WHERE age > 20\n```", 1.0))]
    pairs.append({"id": "2", "prompt": "Name the oldest singer.\n```sql\n", "wrong": 1.0,
                  "chosen": "SELECT name FROM singer ORDER BY age DESC LIMIT 1\n```",
                  "rejected": "SELECT max(age) FROM singer\n```"})
    items = steps([tokenize_group(g, tok) for g in question_groups(pairs)], 2)
    model = _model(sharp_model_dir, method)
    torch.manual_seed(0)
    ref = torch.randn(6).tolist()  # any opponent log-probabilities: 4 + 2 members
    items[0]["ref"] = [ref[:4], ref[4:]]
    results = []
    for share in (True, False):
        batch = PreferenceCollator(tok.pad_token_id, share)(items)
        assert batch["gold_index"].tolist() == [0, 0, 0, 4]
        assert batch["gen_index"].tolist() == [1, 2, 3, 5]
        model.zero_grad()
        loss = pair_loss(member_logps(model, batch), batch, lam=1.0)
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                        if p.requires_grad}))
    (loss_s, grads_s), (loss_a, grads_a) = results
    assert _close(loss_s, loss_a)
    for name in grads_a:
        assert _close(grads_s[name], grads_a[name]), name
