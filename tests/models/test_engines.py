"""Generation engines: one interface, the same token ids to every engine."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alignsql.errors import AlignSQLError
from alignsql.models.engines import open_engine, resolve_backend
from alignsql.models.generate import STOP_STRINGS, GenOptions, Request
from alignsql.models.prompts import split_tokens


class FakeServer:
    """An OpenAI-compatible /v1 server that records requests and answers "SELECT 1"."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, obj: dict) -> None:
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"data": [{"id": "served-model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.bodies.append(body)
                self._send({"choices": [{"index": i, "text": f"SELECT {i + 1}"}
                                        for i in range(body["n"])],
                            "usage": {"completion_tokens": 3 * body["n"]}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.httpd.shutdown()


def test_openai_engine_sends_the_hf_token_ids(server, tiny_model_dir) -> None:
    """The server receives exactly the ids the hf engine feeds its model (split_tokens of
    the rendered prompt, prefix then rest), the shared stop strings, n and the seed."""
    engine = open_engine("openai", str(tiny_model_dir), base_url=server.url)
    hf = open_engine("hf", str(tiny_model_dir), dtype="fp32", device="cpu")
    reqs = [Request(i, f"<|im_start|>user\nschema {i % 2}\nquestion {i}", f"<|im_start|>user\n"
                       f"schema {i % 2}\n") for i in range(5)]
    got = dict(engine.stream(reqs, GenOptions(max_new_tokens=7, num_samples=2,
                                              temperature=0.5, seed=3), slots=2))
    assert sorted(got) == list(range(5)) and [g.text for g in got[0]] == ["SELECT 1", "SELECT 2"]
    sent = {tuple(b["prompt"]) for b in server.bodies}
    want = {tuple(sum(split_tokens(hf.tokenizer, r.prompt, r.prefix), [])) for r in reqs}
    assert sent == want
    body = server.bodies[0]
    assert (body["model"], body["stop"], body["n"], body["seed"], body["max_tokens"]) == (
        "served-model", STOP_STRINGS, 2, 3, 7)


def test_backend_choice_and_errors(tiny_model_dir) -> None:
    assert resolve_backend("hf") == "hf" and resolve_backend("auto") in ("hf", "vllm")
    with pytest.raises(AlignSQLError, match="backend"):
        resolve_backend("tgi")
    with pytest.raises(AlignSQLError, match="base-url"):
        open_engine("openai", str(tiny_model_dir))
    with pytest.raises(AlignSQLError, match="no OpenAI-compatible server"):
        open_engine("openai", str(tiny_model_dir), base_url="http://127.0.0.1:9")


def test_vllm_backend_is_optional(tiny_model_dir) -> None:
    import importlib.util
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed: test_vllm_engine_matches_hf_greedy covers it")
    with pytest.raises(AlignSQLError, match="not installed"):
        open_engine("vllm", str(tiny_model_dir))


def test_vllm_engine_matches_hf_greedy(wide_model_dir) -> None:
    """Where vllm is installed (.venv-vllm): the same prompts (split_tokens ids), greedy, give
    the same text as the hf engine (fp32, a tiny model with head size 64, which vLLM's CPU
    attention supports). Text is compared without a trailing U+FFFD: vLLM holds back the
    bytes of an unfinished character, transformers decodes them as a replacement."""
    pytest.importorskip("vllm", reason="vllm is not installed here (make vllm builds .venv-vllm)")
    model = str(wide_model_dir)
    reqs = [Request(i, f"<|im_start|>user\nschema {i % 2}\nquestion {i}", f"<|im_start|>user\n"
                       f"schema {i % 2}\n") for i in range(4)]
    vllm = open_engine("vllm", model, dtype="fp32")
    try:
        got = dict(vllm.stream(reqs, GenOptions(max_new_tokens=8)))
        sampled = dict(vllm.stream(reqs[:1], GenOptions(max_new_tokens=8, num_samples=3,
                                                        temperature=1.0, seed=1)))
    finally:
        vllm.close()
    hf = open_engine("hf", model, dtype="fp32", device="cpu")
    want = dict(hf.stream(reqs, GenOptions(max_new_tokens=8)))
    assert {k: v[0].text.rstrip("\ufffd") for k, v in got.items()} == \
        {k: v[0].text.rstrip("\ufffd") for k, v in want.items()}
    assert len(sampled[0]) == 3
