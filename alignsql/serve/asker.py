"""Answer questions about a fixed set of SQLite databases with one loaded model.

The model is loaded once. Questions from any number of threads go to one generation thread,
which runs the continuous batcher (alignsql.models.generate.stream) and admits new questions
into free slots of the running batch, so concurrent requests share the batch. Prompts are
rendered as in training (the model's prompt.json: sample values and prompt budget) and split
into the same token ids; the SQL is extracted from the reply and run by the read-only,
time-limited executor. Model-written SQL is never trusted: a write, an ATTACH or a PRAGMA is
denied by the executor, and its category is returned.
"""
from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from alignsql.errors import AlignSQLError


@dataclass
class AskerConfig:
    model: str = "qwen2.5-coder-0.5b"
    """Registry name, model directory (e.g. a run's merged/) or Hugging Face id."""
    db: list[str] = field(default_factory=list)
    """SQLite files to answer questions about; each is addressed by its file stem."""
    batch_size: int = 8
    """Rows decoded together (continuous batching across concurrent requests)."""
    max_new_tokens: int = 256
    """Generation budget per answer."""
    timeout: float = 10.0
    """Seconds a generated query may run."""
    max_rows: int = 200
    """Rows returned per answer (the result is flagged truncated past this)."""
    sample_values: int | None = None
    """Example values per column in the prompt (default: the model's prompt.json, else 3)."""
    max_prompt_tokens: int | None = None
    """Prompt budget (default: the model's prompt.json, else 2048)."""
    dtype: str = "bf16"
    """bf16, fp32 or fp16."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    backend: str = "auto"
    """Generation engine: auto (vllm where installed, else hf), hf, vllm, or openai (an
    OpenAI-compatible server at --base-url)."""
    base_url: str | None = None
    """Server of the openai backend, e.g. http://localhost:8001."""

    def __post_init__(self) -> None:
        from alignsql.models.engines import resolve_backend
        resolve_backend(self.backend)
        if self.batch_size < 1 or self.max_new_tokens < 1 or self.max_rows < 1:
            raise AlignSQLError("batch_size, max_new_tokens and max_rows must be at least 1")
        if not self.timeout > 0:
            raise AlignSQLError("timeout must be positive")


@dataclass
class ServeConfig(AskerConfig):
    host: str = "127.0.0.1"
    """Address to listen on (loopback by default: nothing outside this machine can ask)."""
    port: int = 8000
    """Port to listen on."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.port < 65536:
            raise AlignSQLError(f"port must be 1-65535, not {self.port}")


def database_map(paths: list[str]) -> dict[str, Path]:
    """{file stem: path}; every file must exist and be SQLite, stems must be unique."""
    out: dict[str, Path] = {}
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise AlignSQLError(f"--db {p}: file not found")
        with open(path, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise AlignSQLError(f"--db {p}: not a SQLite database")
        if path.stem in out:
            raise AlignSQLError(f"--db {p}: a database named {path.stem!r} is already given "
                                f"({out[path.stem]}); names are file stems")
        out[path.stem] = path
    if not out:
        raise AlignSQLError("give at least one --db PATH")
    return out


class Asker:
    """``ask(question, db) -> dict``, thread-safe; ``close()`` stops the generation thread."""

    def __init__(self, cfg: AskerConfig, lm=None) -> None:
        """``lm``: an engine (alignsql.models.engines) or a loaded HF model to use instead of
        opening ``cfg.backend``."""
        from alignsql.data.schema import from_sqlite
        from alignsql.models.engines import open_engine
        from alignsql.models.engines.hf import HFEngine
        from alignsql.models.loading import LoadedModel
        from alignsql.models.predict import prompt_defaults
        self.cfg = cfg
        self.dbs = database_map(cfg.db)
        defaults = prompt_defaults(cfg.model)
        self.samples = cfg.sample_values if cfg.sample_values is not None else int(
            defaults.get("sample_values", 3))
        self.budget = cfg.max_prompt_tokens or int(defaults.get("max_prompt_tokens", 2048))
        self.schemas = {name: from_sqlite(path, name, samples=self.samples)
                        for name, path in self.dbs.items()}
        if isinstance(lm, LoadedModel):
            lm = HFEngine.wrap(lm)
        self.engine = lm or open_engine(cfg.backend, cfg.model, cfg.dtype, cfg.device,
                                        cfg.base_url)
        self.recent: deque[dict] = deque(maxlen=20)
        self._inbox: queue.Queue = queue.Queue()
        self._futures: dict[str, Future] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alignsql-generate", daemon=True)
        self._thread.start()

    def _prompt(self, question: str, db: str):
        from alignsql.data.example import Example
        from alignsql.models.prompts import PromptOptions, build
        opts = PromptOptions(self.samples, self.budget)
        return build(Example(question, "", db), self.schemas[db], self.engine.tokenizer, opts)

    def _drain(self) -> list:
        items = []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    def _loop(self) -> None:
        from alignsql.models.generate import GenOptions
        opts = GenOptions(self.cfg.max_new_tokens)
        while not self._stop.is_set():
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                for key, gens in self.engine.stream([first], opts, self.cfg.batch_size,
                                                    incoming=self._drain):
                    self._futures.pop(key).set_result(gens[0].text)
            except Exception as exc:  # a failed batch fails its waiting requests, not the server
                for fut in list(self._futures.values()):
                    fut.set_exception(exc)
                self._futures.clear()

    def generate(self, question: str, db: str) -> tuple[str, str]:
        """(raw reply, extracted SQL), through the shared batch."""
        from alignsql.models.extract import extract_sql
        from alignsql.models.generate import Request
        prompt = self._prompt(question, db)
        key = uuid.uuid4().hex
        fut: Future = Future()
        self._futures[key] = fut
        self._inbox.put(Request(key, prompt.text, prompt.prefix))
        raw = fut.result()
        return raw, extract_sql(raw)

    def ask(self, question: str, db: str) -> dict:
        """The SQL the model writes for ``question`` on database ``db`` and its result."""
        from alignsql.eval.executor import execute
        if db not in self.dbs:
            raise KeyError(db)
        start = time.perf_counter()
        _, sql = self.generate(question, db)
        res = execute(self.dbs[db], sql, self.cfg.timeout, self.cfg.max_rows)
        answer = {"sql": sql, "columns": res.columns,
                  "rows": [[_cell(v) for v in row] for row in res.rows],
                  "truncated": res.truncated, "error": res.error,
                  "elapsed_ms": round((time.perf_counter() - start) * 1000, 1)}
        self.recent.appendleft({"question": question, "db": db, "sql": sql,
                                "error": res.error})
        return answer

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _cell(value):
    """JSON-safe cell: bytes become a short hex preview."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes: {value[:16].hex()}>"
    return value
