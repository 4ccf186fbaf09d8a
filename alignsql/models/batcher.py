"""Continuous batching on top of a Hugging Face causal LM's forward pass.

``model.generate`` runs a batch until its *longest* answer ends: on Spider, answers average 27
tokens but a batch of 8 runs for 47 steps on average (one rambling answer keeps seven finished
rows busy). Here a finished row leaves the batch at once and the next question takes its slot,
so the batch stays full and the number of decode steps approaches total tokens / slots (the
scheduling of vLLM and TGI; Yu et al., "Orca", OSDI 2022). On this CPU that is the largest
throughput lever for batched SQL generation (measured in bench/predict_bench.py).

Rows are kept left-padded in one ``DynamicCache``: a new row is prefilled on its own (its
database's schema prefix comes from a small LRU of prefix KV caches, so each schema is
prefilled once), then concatenated to the running batch after padding both to one length.
Positions are passed explicitly, so padding never shifts a row's rotary positions.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from alignsql.models.loading import LoadedModel


@dataclass
class Request:
    key: Hashable
    """The caller's id, returned with the generations."""
    prompt: str
    prefix: str = ""
    """A leading part of ``prompt`` shared with other requests (its KV cache is reused)."""


@dataclass
class _Row:
    req: int
    """Index of the request in the stream."""
    tokens: list[int] = field(default_factory=list)


class PrefixCache:
    """KV caches of the most recent prompt prefixes (questions arrive grouped by database, so
    a few entries suffice)."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[str, tuple[Any, Any]] = OrderedDict()

    def get(self, lm: LoadedModel, prefix: str):
        """(ids [1, P], cache) of ``prefix``, computed on first use."""
        import torch
        if prefix in self.entries:
            self.entries.move_to_end(prefix)
            return self.entries[prefix]
        ids = lm.tokenizer(prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            out = lm.model(input_ids=ids.to(lm.device), use_cache=True)
        entry = (ids, out.past_key_values)
        self.entries[prefix] = entry
        while len(self.entries) > self.capacity:  # capacity 0: used once, not kept
            self.entries.popitem(last=False)
        return entry


class _Batch:
    """The running rows: one left-padded KV cache, its mask, each row's next position and
    last token."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self.cache = None
        self.mask = None
        self.pos = None
        self.last = None

    def add(self, rows: list[_Row], cache, mask, last) -> None:
        import torch
        pos = mask.sum(-1)
        if not self.rows:
            self.rows, self.cache, self.mask, self.pos, self.last = rows, cache, mask, pos, last
            return
        width = max(self.mask.shape[1], mask.shape[1])
        for mine, new in zip(self.cache.layers, cache.layers):
            mine.keys = torch.cat([_pad_left(mine.keys, width, -2), _pad_left(new.keys, width, -2)])
            mine.values = torch.cat([_pad_left(mine.values, width, -2),
                                     _pad_left(new.values, width, -2)])
        self.mask = torch.cat([_pad_left(self.mask, width, 1), _pad_left(mask, width, 1)])
        self.pos = torch.cat([self.pos, pos])
        self.last = torch.cat([self.last, last])
        self.rows = self.rows + rows

    def keep(self, keep: list[int]) -> None:
        """Drop the other rows, then the leading columns no remaining row attends to."""
        import torch
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self.cache = self.mask = self.pos = self.last = None
            return
        idx = torch.tensor(keep, device=self.mask.device)
        self.mask, self.pos, self.last = self.mask[idx], self.pos[idx], self.last[idx]
        start = int(self.mask.any(0).long().argmax())
        self.mask = self.mask[:, start:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[idx, :, start:]
            layer.values = layer.values[idx, :, start:]


def _pad_left(t, width: int, dim: int):
    import torch
    missing = width - t.shape[dim]
    if missing == 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t.new_zeros(shape), t], dim=dim)


def _left_pad(rows: list[list[int]], pad: int):
    import torch
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    return ids, mask


def prefill(lm: LoadedModel, prefixes: PrefixCache, prefix: str, suffixes: list[list[int]]):
    """Run ``suffixes`` (token lists, all continuing ``prefix``) through the model on top of
    the prefix's cached keys and values. Returns (cache, mask, logits of the last position)."""
    import torch
    from transformers import DynamicCache

    ids, mask = _left_pad(suffixes, lm.tokenizer.pad_token_id)
    n = len(suffixes)
    if prefix:
        prefix_ids, prefix_kv = prefixes.get(lm, prefix)
        cache = copy.deepcopy(prefix_kv)
        cache.batch_repeat_interleave(n)
        mask = torch.cat([torch.ones((n, prefix_ids.shape[1]), dtype=torch.long), mask], dim=1)
    else:
        cache = DynamicCache(config=lm.model.config)
    # a row's positions count only its real tokens, wherever the padding sits
    pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, mask.shape[1] - ids.shape[1]:]
    dev = lm.device
    out = lm.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                   past_key_values=cache, use_cache=True, logits_to_keep=1)
    return cache, mask.to(dev), out.logits[:, -1].float()


def decode_step(lm: LoadedModel, batch: _Batch):
    """Feed every row its last token; returns the next-token logits."""
    import torch
    ones = torch.ones((batch.mask.shape[0], 1), dtype=batch.mask.dtype, device=batch.mask.device)
    batch.mask = torch.cat([batch.mask, ones], dim=1)
    out = lm.model(input_ids=batch.last[:, None], attention_mask=batch.mask,
                   position_ids=batch.pos[:, None], past_key_values=batch.cache, use_cache=True)
    batch.pos = batch.pos + 1
    return out.logits[:, -1].float()


def group_by_prefix(items: Iterable[tuple[int, str]]) -> Iterator[tuple[str, list[int]]]:
    """(prefix, request indices) runs, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for index, prefix in items:
        groups.setdefault(prefix, []).append(index)
    yield from groups.items()

