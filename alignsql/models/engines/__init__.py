"""Generation engines behind one interface.

Every engine answers ``Request``s (the alignsql-rendered prompt, split at its shared prefix)
with ``GenOptions`` and yields ``(key, [Generation])`` as requests finish. The token ids that
reach the model are the same for every engine: ``prompts.split_tokens`` of the rendered text
(the ids training used); the stop strings and SQL extraction are shared too.

- ``hf``: alignsql's continuous batcher on transformers (always installed, the fallback);
- ``vllm``: in-process ``vllm.LLM`` with prefix caching (its own environment: ``make vllm``);
- ``openai``: any OpenAI-compatible server (``vllm serve``, llama.cpp's server, SGLang) sent
  the prompt's token ids on ``/v1/completions``.

``auto`` picks vllm where it is installed, else hf.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Protocol

from alignsql.errors import AlignSQLError
from alignsql.models.generate import GenOptions, Generation, Request

BACKENDS = ("auto", "hf", "vllm", "openai")


class Engine(Protocol):
    name: str
    tokenizer: Any
    device: str
    dtype: str  # as it runs (hf: fp32 where the one asked for is slow; openai: remote)

    def stream(self, requests: Iterable[Request], opts: GenOptions, slots: int = 8,
               incoming: Callable[[], list[Request]] | None = None
               ) -> Iterator[tuple[Hashable, list[Generation]]]:
        """(key, ``opts.num_samples`` generations) per request, as each finishes."""


def close(engine) -> None:
    """Free an engine's processes and memory now (vLLM's workers); others need nothing."""
    if hasattr(engine, "close"):
        engine.close()


def as_engine(model) -> Engine:
    """An engine as is; a loaded transformers model wrapped in the hf engine."""
    from alignsql.models.loading import LoadedModel
    if isinstance(model, LoadedModel):
        from alignsql.models.engines.hf import HFEngine
        return HFEngine.wrap(model)
    return model


def resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise AlignSQLError(f"backend (--backend) must be one of {', '.join(BACKENDS)}, "
                            f"not {backend!r}")
    if backend == "auto":
        return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"
    return backend


def check_engine(backend: str, model: str, device: str = "auto",
                 base_url: str | None = None) -> str:
    """The backend's name, once its options make sense together; no model loads (a command
    checks before it writes anything, so a mistyped option leaves no empty output behind)."""
    from alignsql.models.loading import check_model, pick_device
    name = resolve_backend(backend)
    if name == "openai":  # the model is a name the server knows
        if not base_url:
            raise AlignSQLError("backend openai needs --base-url (e.g. http://localhost:8000)")
        return name
    if base_url:
        raise AlignSQLError(f"--base-url is for backend openai, not {name}")
    check_model(model)
    pick_device(device)
    return name


def open_engine(backend: str, model: str, dtype: str = "bf16", device: str = "auto",
                base_url: str | None = None, prefix_cache: bool = True,
                log: Callable[[str], None] = lambda _: None) -> Engine:
    """The engine of ``backend`` for ``model`` (a registry name, directory or hub id)."""
    name = check_engine(backend, model, device, base_url)
    if name == "openai":
        from alignsql.models.engines.openai import OpenAIEngine
        return OpenAIEngine(model, base_url, log)
    if name == "vllm":
        from alignsql.models.engines.vllm import VLLMEngine
        return VLLMEngine(model, dtype, device, log)
    from alignsql.models.engines.hf import HFEngine
    return HFEngine(model, dtype, device, prefix_cache, log)


_OPEN: dict[tuple, Engine] = {}


def shared_engine(backend: str, model: str, dtype: str = "bf16", device: str = "auto",
                  log: Callable[[str], None] = lambda _: None) -> Engine:
    """``open_engine``, once per command for the same model and settings: a command that
    generates in several stages or rounds (synthesis's question writer and round trip) pays
    a load (vLLM's takes 80 s on a CPU) once."""
    key = (resolve_backend(backend), model, dtype, device)
    if key not in _OPEN:
        _OPEN[key] = open_engine(backend, model, dtype, device, log=log)
    return _OPEN[key]
