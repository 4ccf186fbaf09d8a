"""The ``vllm`` engine: in-process ``vllm.LLM`` (prefix caching on) given each prompt's token
ids, greedy or n samples, with the shared stop strings. Loaded once per command (its load
takes about 80 s on a CPU): the engine object is reused for every batch of the command."""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator

from alignsql.errors import AlignSQLError
from alignsql.models.generate import STOP_STRINGS, GenOptions, Generation, Request
from alignsql.models.prompts import split_tokens

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, dtype: str = "bf16", device: str = "auto",
                 log: Callable[[str], None] = lambda _: None):
        try:
            from vllm import LLM
        except ImportError:
            raise AlignSQLError("backend vllm is not installed: pip install 'alignsql[vllm]' "
                                "(or use --backend hf)") from None
        from alignsql.models.loading import resolve
        path = resolve(model, log)
        log(f"loading {path} in vLLM (prefix caching on)")
        self.llm = LLM(model=path, dtype=DTYPES.get(dtype, "bfloat16"),
                       enable_prefix_caching=True)
        self.tokenizer = self.llm.get_tokenizer()
        self.device = device

    def _params(self, opts: GenOptions):
        from vllm import SamplingParams
        greedy = opts.temperature == 0
        return SamplingParams(n=opts.num_samples, temperature=opts.temperature,
                              top_p=1.0 if greedy else opts.top_p, seed=opts.seed,
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
            outs = self.llm.generate(prompts, self._params(opts), use_tqdm=False)
            for req, out in zip(reqs, outs):
                yield req.key, [Generation(o.text, len(o.token_ids)) for o in out.outputs]
            reqs = list(incoming()) if incoming else []
