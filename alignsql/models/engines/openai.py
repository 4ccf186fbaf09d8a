"""The ``openai`` engine: an OpenAI-compatible ``/v1/completions`` server (``vllm serve``,
llama.cpp's server, SGLang) sent each prompt's token ids, so the server sees exactly the ids
alignsql renders (no second chat template, no re-tokenization). Requests run concurrently,
``slots`` at a time; stop strings are the shared ones."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from alignsql.errors import AlignSQLError
from alignsql.models.generate import STOP_STRINGS, GenOptions, Generation, Request
from alignsql.models.prompts import split_tokens

TIMEOUT_S = 600


class OpenAIEngine:
    name = "openai"
    device = "remote"
    dtype = "remote"

    def __init__(self, model: str, base_url: str, log: Callable[[str], None] = lambda _: None):
        from transformers import AutoTokenizer

        from alignsql.models.loading import resolve
        self.model = model
        self.url = base_url.rstrip("/") + ("" if base_url.rstrip("/").endswith("/v1") else "/v1")
        self.tokenizer = AutoTokenizer.from_pretrained(resolve(model, log))
        self.served = self._served_model()

    def _served_model(self) -> str:
        """The server's model id (the first it lists): the request must name it."""
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=30) as resp:
                data = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AlignSQLError(f"--base-url {self.url}: no OpenAI-compatible server answers "
                                f"({exc})") from None
        models = [m.get("id") for m in data.get("data", []) if m.get("id")]
        if not models:
            raise AlignSQLError(f"--base-url {self.url}: the server lists no model")
        return models[0]

    def body(self, req: Request, opts: GenOptions) -> dict:
        head, rest = split_tokens(self.tokenizer, req.prompt, req.prefix)
        return {"model": self.served, "prompt": head + rest, "max_tokens": opts.max_new_tokens,
                "temperature": opts.temperature, "top_p": opts.top_p if opts.temperature else 1,
                "n": opts.num_samples, "stop": STOP_STRINGS, "seed": opts.seed}

    def _complete(self, req: Request, opts: GenOptions) -> list[Generation]:
        data = json.dumps(self.body(req, opts)).encode()
        post = urllib.request.Request(f"{self.url}/completions", data=data,
                                      headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(post, timeout=TIMEOUT_S) as resp:
                out = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AlignSQLError(f"--base-url {self.url}: completion failed ({exc})") from None
        choices = sorted(out.get("choices", []), key=lambda c: c.get("index", 0))
        per_choice = _tokens_per_choice(out, len(choices))
        return [Generation(c.get("text", ""), per_choice) for c in choices]

    def stream(self, requests: Iterable[Request], opts: GenOptions, slots: int = 8,
               incoming: Callable[[], list[Request]] | None = None
               ) -> Iterator[tuple[Hashable, list[Generation]]]:
        queue = list(requests)
        with ThreadPoolExecutor(max_workers=max(1, slots)) as pool:
            running: dict[Future, Hashable] = {}
            while True:
                queue.extend(incoming() if incoming else ())
                while queue and len(running) < slots:
                    req = queue.pop(0)
                    running[pool.submit(self._complete, req, opts)] = req.key
                if not running:  # nothing queued, running or newly arrived: the stream ends
                    return
                done, _ = wait(list(running), timeout=0.05, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield running.pop(fut), fut.result()


def _tokens_per_choice(out: dict, n_choices: int) -> int:
    """The server reports completion tokens for the whole request: an even share each."""
    usage = out.get("usage") or {}
    return int(usage.get("completion_tokens", 0) // max(n_choices, 1))
