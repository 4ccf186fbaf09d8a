"""Batched generation with continuous batching: greedy or sampled, n candidates per prompt.

Prompts that share a prefix (the system turn and the database schema, for questions on one
database) reuse its KV cache, so each schema is prefilled once; a row that finishes leaves the
batch and the next prompt takes its slot (see ``batcher``).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass

from alignsql.models.batcher import (
    PrefixCache,
    Request,
    _Batch,
    _Row,
    decode_step,
    group_by_prefix,
    prefill,
)
from alignsql.models.loading import LoadedModel
from alignsql.models.prompts import ANSWER_SUFFIX, split_tokens

__all__ = ["GenOptions", "Generation", "PrefixCache", "Request", "generate", "stream"]

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


class _Stops:
    """When a row is done: an end-of-sequence token, a stop string, or the token budget."""

    def __init__(self, lm: LoadedModel, max_new_tokens: int) -> None:
        tok = lm.tokenizer
        eos = getattr(lm.model.generation_config, "eos_token_id", None)
        eos = eos if isinstance(eos, list) else [eos]
        self.ends = {t for t in [*eos, tok.eos_token_id, tok.pad_token_id] if t is not None}
        self.tok, self.max_new = tok, max_new_tokens

    def done(self, tokens: list[int]) -> bool:
        if tokens[-1] in self.ends or len(tokens) >= self.max_new:
            return True
        tail = self.tok.decode(tokens[-4:])  # a stop string may span a few tokens
        return any(s in tail for s in STOP_STRINGS)

    def finish(self, tokens: list[int]) -> Generation:
        if tokens and tokens[-1] in self.ends:
            tokens = tokens[:-1]
        return Generation(self.tok.decode(tokens, skip_special_tokens=True), len(tokens))


def _pick(logits, opts: GenOptions, rng):
    import torch
    if opts.temperature <= 0 and opts.num_samples == 1:
        return logits.argmax(-1)
    from transformers.generation.logits_process import TopPLogitsWarper
    scores = logits / (opts.temperature or 1.0)
    scores = TopPLogitsWarper(opts.top_p)(None, scores)
    return torch.multinomial(scores.softmax(-1), 1, generator=rng).squeeze(-1)


def stream(lm: LoadedModel, requests: Iterable[Request], opts: GenOptions, slots: int = 8,
           prefixes: PrefixCache | None = None,
           incoming: Callable[[], list[Request]] | None = None
           ) -> Iterator[tuple[Hashable, list[Generation]]]:
    """(key, ``opts.num_samples`` generations) per request, as each finishes; at most
    ``slots`` rows decode together (a request's candidates are admitted together).
    ``incoming()``, polled before every decode step, hands over requests that arrived since
    (a server's queue): they take free slots in the running batch."""
    import torch
    reqs = list(requests)
    prefixes = prefixes or PrefixCache()
    stops, k = _Stops(lm, opts.max_new_tokens), opts.num_samples
    rng = torch.Generator(device=lm.device).manual_seed(opts.seed)
    queue, batch = deque(range(len(reqs))), _Batch()
    results: dict[int, list[Generation]] = {}
    with torch.inference_mode():
        while True:
            for req in incoming() if incoming else ():
                reqs.append(req)
                queue.append(len(reqs) - 1)
            if not (queue or batch.rows):
                break
            n_admit = max((slots - len(batch.rows)) // k, 0 if batch.rows else 1)
            admitted = [queue.popleft() for _ in range(min(n_admit, len(queue)))]
            _admit(lm, batch, [reqs[i] for i in admitted], admitted, k, prefixes, opts, rng)
            yield from _sweep(batch, stops, results, reqs, k)
            if batch.rows:
                batch.last = _pick(decode_step(lm, batch), opts, rng)
                for row, t in zip(batch.rows, batch.last.tolist()):
                    row.tokens.append(t)
                yield from _sweep(batch, stops, results, reqs, k)


def _admit(lm: LoadedModel, batch: _Batch, reqs: list[Request], indices: list[int], k: int,
           prefixes: PrefixCache, opts: GenOptions, rng) -> None:
    tok = lm.tokenizer
    shared = [r.prefix if r.prefix and r.prompt.startswith(r.prefix)
              and len(r.prompt) > len(r.prefix) else "" for r in reqs]
    for prefix, members in group_by_prefix(enumerate(shared)):
        # split as training splits it (prompts.split_tokens): the same token ids
        suffixes = [split_tokens(tok, reqs[m].prompt, prefix)[1] for m in members for _ in range(k)]
        cache, mask, logits = prefill(lm, prefixes, prefix, suffixes)
        first = _pick(logits, opts, rng)
        rows = [_Row(indices[m]) for m in members for _ in range(k)]
        for row, t in zip(rows, first.tolist()):
            row.tokens.append(t)
        batch.add(rows, cache, mask, first)


def _sweep(batch: _Batch, stops: _Stops, results: dict, reqs: list[Request], k: int):
    """Retire finished rows; yield the requests whose candidates are all done."""
    keep = []
    for i, row in enumerate(batch.rows):
        if not stops.done(row.tokens):
            keep.append(i)
            continue
        group = results.setdefault(row.req, [])
        group.append(stops.finish(row.tokens))
        if len(group) == k:
            yield reqs[row.req].key, results.pop(row.req)
    if len(keep) < len(batch.rows):
        batch.keep(keep)


def generate(lm: LoadedModel, prompts: list[str], opts: GenOptions,
             prefix: str | list[str] | None = None, prefix_cache: PrefixCache | None = None,
             slots: int | None = None) -> list[list[Generation]]:
    """``opts.num_samples`` generations per prompt, in prompt order. With ``prefix`` (shared by
    the prompts, or one per prompt), a prefix's KV cache is computed once (and kept in
    ``prefix_cache`` if given), and prompts are tokenized as training tokenizes them."""
    prefixes = prefix if isinstance(prefix, list) else [prefix or ""] * len(prompts)
    reqs = [Request(i, p, pre) for i, (p, pre) in enumerate(zip(prompts, prefixes))]
    slots = slots or max(len(prompts) * opts.num_samples, 1)
    out = dict(stream(lm, reqs, opts, slots, prefix_cache))
    return [out[i] for i in range(len(prompts))]
