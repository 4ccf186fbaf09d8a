"""Preference training on prefix-shared groups: one packed row per question, its prompt run
once and its gold SQL and every sampled SQL as members (alignsql.train.prefix). A question
with k samples gives k (gold, sample) pairs; the gold's log-probability is computed once for
all of them, and the prompt once for all k + 1 answers (the DPO-style trainers run the prompt
twice per pair).

The trainer is transformers' Trainer with the error-driven loss of
``alignsql.train.losses.error_driven_loss`` (SPFT-SQL; SPIN and DPO are the same loss with R
fixed or the pairs filtered); the frozen opponent's log-probabilities are computed once,
through the same collator, and ride in the dataset.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alignsql.models.prompts import split_tokens
from alignsql.train.prefix import GroupCollator, pack


def question_groups(pairs: Sequence[dict]) -> list[dict]:
    """Pairs of one question (same id and prompt) gathered: prompt, gold, samples, R."""
    groups: dict[tuple[str, str], dict] = {}
    for p in pairs:
        g = groups.setdefault((p["id"], p["prompt"]), {"prompt": p["prompt"], "id": p["id"],
                                                       "chosen": p["chosen"], "rejected": [],
                                                       "wrong": []})
        g["rejected"].append(p["rejected"])
        g["wrong"].append(float(p["wrong"]))
    return list(groups.values())


def tokenize_group(group: dict, tokenizer) -> dict:
    """The packed row of a question: the prompt (all but its last token) shared, then the gold
    and each sample, each with EOS. Token ids as generation sees them (split_tokens)."""
    head, rest = split_tokens(tokenizer, group["prompt"], group["prompt"])
    eos = [tokenizer.eos_token_id]
    encode = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"] + eos  # noqa: E731
    members = [{"prefix_ids": head, "rest_ids": rest, "completion_ids": encode(answer)}
               for answer in [group["chosen"], *group["rejected"]]]
    return {**pack(members), "wrong": group["wrong"]}


def steps(units: list[dict], batch_size: int) -> list[dict]:
    """Dataset items, ``batch_size`` questions each (in the given order: shuffle before)."""
    keys = ("input_ids", "labels", "position_ids", "seg", "wrong")
    return [{k: [u[k] for u in units[i:i + batch_size]] for k in keys}
            for i in range(0, len(units), batch_size)]


@dataclass
class PreferenceCollator(GroupCollator):
    """A step's rows plus, per pair, the indices of its gold and its sample among the members
    (numbered as ``member_ids`` numbers them), R, and the opponent's log-probabilities when
    the item carries them."""

    def __call__(self, items: list[dict]) -> dict:
        import torch
        batch = super().__call__(items)
        gold, gen, base = [], [], 0
        for it in items:
            for wrong in it["wrong"]:
                gold += [base] * len(wrong)
                gen += range(base + 1, base + 1 + len(wrong))
                base += 1 + len(wrong)
        batch.update(gold_index=torch.tensor(gold), gen_index=torch.tensor(gen),
                     wrong=torch.tensor([w for it in items for ws in it["wrong"] for w in ws]))
        if "ref" in items[0]:
            batch["ref"] = torch.tensor([r for it in items for rs in it["ref"] for r in rs])
        return batch


def pair_loss(logps, batch: dict, lam: float):
    """The error-driven loss over the step's pairs (alignsql.train.losses)."""
    from alignsql.train.losses import error_driven_loss
    ref = batch["ref"].to(logps.device)
    g, y = batch["gold_index"], batch["gen_index"]
    return error_driven_loss(logps[g], ref[g], logps[y], ref[y], batch["wrong"].to(logps.device),
                             lam)


def with_opponent_logps(items: list[dict], opponent, collator: PreferenceCollator,
                        bf16: bool = False, bar=None) -> list[dict]:
    """Each item with ``ref``: the frozen opponent's log-probability of every member, computed
    in the precision main trains in (bf16 autocast over fp32 weights, or fp32), so that a
    model playing itself starts at log-ratio 0. ``bar``: a progress bar, advanced per item
    and closed."""
    import torch

    from alignsql.train.losses import member_logps
    out = []
    device = next(opponent.parameters()).device.type
    with torch.inference_mode(), torch.autocast(device, torch.bfloat16, enabled=bf16):
        for it in items:
            batch = collator([it])
            lp = member_logps(opponent, {k: v.to(opponent.device) for k, v in batch.items()
                                         if hasattr(v, "to")}).float().cpu().tolist()
            sizes = [len(w) + 1 for w in it["wrong"]]
            ref, start = [], 0
            for n in sizes:
                ref.append(lp[start:start + n])
                start += n
            out.append({**it, "ref": ref})
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return out


def trainer_class():
    """transformers' Trainer with the pair loss (mean over the step's pairs: the Trainer
    divides it over accumulation steps) and real-token counting."""
    from transformers import Trainer

    from alignsql.train.losses import member_logps

    class PreferenceTrainer(Trainer):
        lam: float = 0.1

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            logps = member_logps(model, inputs)
            loss = pair_loss(logps, inputs, self.lam)
            return (loss, {"logps": logps}) if return_outputs else loss

        def _track_num_input_tokens(self, inputs):
            seen = self.accelerator.gather(inputs["n_tokens"].reshape(1)).sum()
            self.state.num_input_tokens_seen += int(seen)
    return PreferenceTrainer
