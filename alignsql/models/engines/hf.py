"""The ``hf`` engine: alignsql's continuous batcher (``generate.stream``) on transformers."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator

from alignsql.models.generate import GenOptions, Generation, PrefixCache, Request, stream
from alignsql.models.loading import load


class HFEngine:
    name = "hf"

    def __init__(self, model: str, dtype: str = "bf16", device: str = "auto",
                 prefix_cache: bool = True, log: Callable[[str], None] = lambda _: None):
        self.lm = load(model, dtype, device, log)
        self.tokenizer, self.device, self.dtype = self.lm.tokenizer, self.lm.device, self.lm.dtype
        # prefix KV caches kept for reuse (a few schemas); 0 = recompute every prefix
        self.cache = PrefixCache(capacity=4 if prefix_cache else 0)

    @classmethod
    def wrap(cls, lm, prefix_cache: bool = True) -> "HFEngine":
        """The engine around an already loaded model."""
        engine = cls.__new__(cls)
        engine.lm, engine.tokenizer, engine.device, engine.dtype = (lm, lm.tokenizer, lm.device,
                                                                    lm.dtype)
        engine.cache = PrefixCache(capacity=4 if prefix_cache else 0)
        return engine

    def stream(self, requests: Iterable[Request], opts: GenOptions, slots: int = 8,
               incoming: Callable[[], list[Request]] | None = None
               ) -> Iterator[tuple[Hashable, list[Generation]]]:
        return stream(self.lm, requests, opts, slots, self.cache, incoming)
