"""Batched generation (left padding), greedy or sampled with n candidates per prompt.

Prompts that share a prefix (the system turn and the database schema, for questions on one
database) can reuse its KV cache: the prefix is run once, its cache repeated over the batch,
and only each question's own tokens are prefilled. On a CPU, prefill dominates (a Spider
schema is hundreds of tokens, a question tens), so this is the main throughput lever.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from alignsql.models.loading import LoadedModel
from alignsql.models.prompts import ANSWER_SUFFIX


STOP_STRINGS = [ANSWER_SUFFIX.strip(), "\n\n"]
"""The closing fence ends an answer; so does a blank line, which SQL rarely holds and a base
model's trailing chatter usually starts with (it saves most of the budget it would waste)."""


@dataclass
class GenOptions:
    max_new_tokens: int = 256
    num_samples: int = 1
    """Candidates per prompt (self-play samples several); 1 with temperature 0 is greedy."""
    temperature: float = 0.0
    top_p: float = 0.95
    seed: int = 0


@dataclass
class Generation:
    text: str
    n_tokens: int


def _kwargs(lm: LoadedModel, opts: GenOptions) -> dict:
    sample = opts.temperature > 0 or opts.num_samples > 1
    kw = dict(max_new_tokens=opts.max_new_tokens, do_sample=sample,
              pad_token_id=lm.tokenizer.pad_token_id,
              stop_strings=STOP_STRINGS, tokenizer=lm.tokenizer)
    if sample:
        kw.update(temperature=opts.temperature or 1.0, top_p=opts.top_p)
    else:
        kw.update(temperature=None, top_p=None, top_k=None)
    return kw


def _left_pad(rows: list[list[int]], pad: int):
    import torch
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
    return ids, mask


class PrefixCache:
    """The KV cache of the last prefix seen (questions arrive grouped by database)."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.ids = None
        self.cache = None

    def get(self, lm: LoadedModel, prefix: str):
        import torch
        if prefix != self.text:
            ids = lm.tokenizer(prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                out = lm.model(input_ids=ids.to(lm.device), use_cache=True)
            self.text, self.ids, self.cache = prefix, ids, out.past_key_values
        return self.ids, self.cache


def generate(lm: LoadedModel, prompts: list[str], opts: GenOptions, prefix: str | None = None,
             prefix_cache: PrefixCache | None = None) -> list[list[Generation]]:
    """``opts.num_samples`` generations per prompt, in prompt order. With ``prefix`` (shared by
    every prompt) and a ``prefix_cache``, the prefix's KV cache is reused."""
    import torch

    tok = lm.tokenizer
    expanded = [p for p in prompts for _ in range(opts.num_samples)]
    kwargs = _kwargs(lm, opts)
    if prefix and prefix_cache is not None and all(p.startswith(prefix) for p in prompts):
        prefix_ids, cache = prefix_cache.get(lm, prefix)
        suffixes = [tok(p[len(prefix):], add_special_tokens=False)["input_ids"] for p in expanded]
        suffix_ids, suffix_mask = _left_pad(suffixes, tok.pad_token_id)
        n = len(expanded)
        ids = torch.cat([prefix_ids.repeat(n, 1), suffix_ids], dim=1).to(lm.device)
        mask = torch.cat([torch.ones_like(prefix_ids).repeat(n, 1), suffix_mask], dim=1).to(lm.device)
        batch_cache = copy.deepcopy(cache)
        batch_cache.batch_repeat_interleave(n)
        kwargs["past_key_values"] = batch_cache
    else:
        enc = tok(expanded, return_tensors="pt", padding=True, add_special_tokens=False)
        ids, mask = enc["input_ids"].to(lm.device), enc["attention_mask"].to(lm.device)
    torch.manual_seed(opts.seed)
    with torch.inference_mode():
        out = lm.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
    return _decode(tok, out[:, ids.shape[1]:], len(prompts), opts.num_samples)


def _decode(tok, new, n_prompts: int, k: int) -> list[list[Generation]]:
    stops = {tok.pad_token_id, tok.eos_token_id}
    results: list[list[Generation]] = []
    for i in range(n_prompts):
        group = []
        for row in new[i * k:(i + 1) * k]:
            ids = row.tolist()
            n = next((j for j, t in enumerate(ids) if t in stops), len(ids))
            group.append(Generation(tok.decode(ids[:n], skip_special_tokens=True), n))
        results.append(group)
    return results
