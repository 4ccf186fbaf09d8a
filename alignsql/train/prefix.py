"""Prefix-shared training: examples whose prompts start with the same tokens (the system turn
and the schema of one database; an LR-SQL slice) are trained as one group, the shared prefix
run once and every member's remaining tokens attending to it and to themselves only.

One group is one packed row::

    [ prefix | rest_1 completion_1 | rest_2 completion_2 | ... ]
      seg 0     seg 1                 seg 2

with position ids restarting after the prefix for each member (each member sees exactly the
positions it would see alone) and a block attention mask: a token of member j attends to the
prefix and to the earlier tokens of member j. The loss is computed on the completion tokens
only, so the summed loss and every gradient equal those of the members run one by one (a
causal LM's outputs at a position depend only on the tokens it attends to and on their
positions). The prefix's activations are computed once instead of once per member: for Spider
(~390 of ~455 tokens per example shared by every question on a database) that is most of the
work. Why a block mask over one row, and not the prefix's key/value tensors expanded over a
batch of suffixes: the mask is a single ordinary forward pass, so gradient checkpointing, LoRA,
full fine-tuning and any attention implementation that takes a 4-D mask work unchanged.

Records carry ``prefix_ids``, ``rest_ids`` and ``completion_ids`` (with the EOS), tokenized by
``alignsql.models.prompts.split_tokens``, the same function generation uses.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

IGNORE = -100
PAD_SEG = -1


def member_tokens(rec: dict) -> int:
    """Tokens a member adds to a group (its question part and its completion)."""
    return len(rec["rest_ids"]) + len(rec["completion_ids"])


def example_tokens(rec: dict) -> int:
    """Tokens of the example run on its own."""
    return len(rec["prefix_ids"]) + member_tokens(rec)


def _chunks(members: list[int], records: Sequence[dict], prefix_len: int, group_size: int,
            max_tokens: int) -> list[list[int]]:
    """Balanced chunks (60 members with group_size 16: four of 15, not 16+16+16+12, so every
    step sees about as many examples), each within ``max_tokens``."""
    target = math.ceil(len(members) / math.ceil(len(members) / group_size))
    out: list[list[int]] = [[]]
    used = prefix_len
    for m in members:
        cost = member_tokens(records[m])
        if out[-1] and (len(out[-1]) >= target or used + cost > max_tokens):
            out.append([])
            used = prefix_len
        out[-1].append(m)
        used += cost
    return out


def make_groups(records: Sequence[dict], group_size: int, max_tokens: int,
                seed: int) -> list[list[int]]:
    """Indices of ``records`` in groups that share ``prefix_ids``: members drawn at random
    within their prefix, at most ``group_size`` per group and ``max_tokens`` per packed row;
    groups shuffled. Records without a prefix, or with ``group_size`` 1, are groups of one."""
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    groups: list[list[int]] = []
    for i, rec in enumerate(records):
        if group_size > 1 and rec["prefix_ids"]:
            by_prefix.setdefault(tuple(rec["prefix_ids"]), []).append(i)
        else:
            groups.append([i])
    rng = random.Random(seed)
    for prefix, members in by_prefix.items():
        rng.shuffle(members)
        groups.extend(_chunks(members, records, len(prefix), group_size, max_tokens))
    rng.shuffle(groups)
    return groups


def pack(members: Sequence[dict]) -> dict:
    """One packed row of a group (members share ``prefix_ids``): input_ids, labels (completion
    tokens only), position_ids and seg (0 = prefix, j = member j)."""
    prefix = list(members[0]["prefix_ids"])
    ids, labels = list(prefix), [IGNORE] * len(prefix)
    pos, seg = list(range(len(prefix))), [0] * len(prefix)
    for j, rec in enumerate(members, 1):
        if list(rec["prefix_ids"]) != prefix:
            raise ValueError("members of a group must share their prefix")
        body = list(rec["rest_ids"]) + list(rec["completion_ids"])
        ids += body
        labels += [IGNORE] * len(rec["rest_ids"]) + list(rec["completion_ids"])
        pos += range(len(prefix), len(prefix) + len(body))
        seg += [j] * len(body)
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "seg": seg,
            "n_members": len(members), "example_tokens": sum(example_tokens(m) for m in members)}


def unpack(unit: dict) -> list[dict]:
    """The members of a packed row as rows of their own (prefix + member): the same tokens,
    labels and positions, computed without sharing."""
    seg = unit["seg"]
    head = [i for i, s in enumerate(seg) if s == 0]
    rows = []
    for j in range(1, max(seg) + 1):
        keep = head + [i for i, s in enumerate(seg) if s == j]
        rows.append({"input_ids": [unit["input_ids"][i] for i in keep],
                     "labels": [unit["labels"][i] for i in keep],
                     "position_ids": [unit["position_ids"][i] for i in keep],
                     "seg": [min(seg[i], 1) for i in keep]})
    return rows


def block_mask(seg):
    """[B, 1, L, L] boolean mask (True = may attend) for rows of segment ids: causal, and a
    member's tokens see the prefix (segment 0) and their own segment. Padding (segment -1)
    attends only to itself, so no softmax row is empty (its outputs carry no loss)."""
    import torch
    n = seg.shape[-1]
    causal = torch.ones((n, n), dtype=torch.bool, device=seg.device).tril()
    q, k = seg[:, :, None], seg[:, None, :]
    allowed = causal & (k >= 0) & ((k == 0) | (k == q))
    pad = (q < 0) & torch.eye(n, dtype=torch.bool, device=seg.device)
    return (allowed & (q >= 0) | pad)[:, None]


def make_batches(records: Sequence[dict], groups: list[list[int]], batch_size: int,
                 by_length: bool, seed: int) -> list[list[list[int]]]:
    """Device steps of whole groups, at most ``batch_size`` examples each (groups hold at most
    ``batch_size``), in a seeded random order. ``by_length``: groups of similar packed length
    share a step (less padding), sorted within windows of 50 steps as transformers'
    LengthGroupedSampler does, so the order stays random at the larger scale."""
    order = list(groups)
    if by_length:
        size = lambda g: len(records[g[0]]["prefix_ids"]) + sum(  # noqa: E731
            member_tokens(records[m]) for m in g)
        window = 50 * batch_size
        order = [g for i in range(0, len(order), window)
                 for g in sorted(order[i:i + window], key=size, reverse=True)]
    batches: list[list[list[int]]] = []
    count = batch_size
    for g in order:
        if count + len(g) > batch_size:
            batches.append([])
            count = 0
        batches[-1].append(g)
        count += len(g)
    random.Random(f"{seed}:batches").shuffle(batches)
    return batches


def batch_item(records: Sequence[dict], batch: list[list[int]]) -> dict:
    """One device step as one dataset item: its groups' packed rows."""
    rows = [pack([records[m] for m in g]) for g in batch]
    item = {k: [r[k] for r in rows] for k in ("input_ids", "labels", "position_ids", "seg")}
    item["n_examples"] = sum(r["n_members"] for r in rows)
    return item


def member_ids(seg):
    """[B, L] index of the member each token belongs to, numbered row by row in segment order
    across the batch (-1: prefix and padding); the same numbering whether a group is one row
    or one row per member."""
    import torch
    counts = seg.max(-1).values.clamp(min=0)
    offsets = torch.cumsum(counts, 0) - counts
    return torch.where(seg > 0, seg - 1 + offsets[:, None], torch.full_like(seg, -1))


@dataclass
class GroupCollator:
    """Pads the packed rows of one step (one dataset item) on the right into a batch.
    ``share_prefix=False`` runs every member as its own row: the same steps, tokens and loss,
    without the saving (for measurement and the exactness tests). When no row holds two
    members, an ordinary 2-D mask is used."""

    pad_token_id: int
    share_prefix: bool = True
    attn_implementation: str = "sdpa"

    def rows(self, items: list[dict]) -> list[dict]:
        keys = ("input_ids", "labels", "position_ids", "seg")
        packed = [dict(zip(keys, vals)) for it in items for vals in zip(*(it[k] for k in keys))]
        return packed if self.share_prefix else [r for u in packed for r in unpack(u)]

    def __call__(self, items: list[dict]) -> dict:
        import torch
        rows = self.rows(items)
        width = max(len(r["input_ids"]) for r in rows)

        def padded(key: str, fill: int):
            return torch.tensor([list(r[key]) + [fill] * (width - len(r[key])) for r in rows])
        seg = padded("seg", PAD_SEG)
        batch = {"input_ids": padded("input_ids", self.pad_token_id),
                 "labels": padded("labels", IGNORE), "position_ids": padded("position_ids", 0),
                 "n_tokens": (seg >= 0).sum(), "member": member_ids(seg)}
        if int(seg.max()) <= 1:
            batch["attention_mask"] = (seg >= 0).long()
        else:
            batch["attention_mask"] = self._mask(block_mask(seg))
        return batch

    def _mask(self, allowed):
        """Boolean for SDPA; additive float for eager attention, which adds the mask."""
        import torch
        if self.attn_implementation == "eager":
            return torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
        return allowed


def sharing_stats(records: Sequence[dict], groups: Sequence[Sequence[int]]) -> dict:
    """Tokens the groups compute against the tokens of the examples run alone."""
    alone = sum(example_tokens(r) for r in records)
    shared = sum(len(records[g[0]]["prefix_ids"]) + sum(member_tokens(records[m]) for m in g)
                 for g in groups)
    sizes = [len(g) for g in groups]
    return {"n_groups": len(groups), "mean_group_size": sum(sizes) / max(len(sizes), 1),
            "max_group_size": max(sizes, default=0), "tokens_alone": alone,
            "tokens_shared": shared, "token_saving": alone / max(shared, 1)}
