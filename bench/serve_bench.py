"""`alignsql serve` throughput on loopback: Qwen2.5-Coder-0.5B answering Spider dev questions
about their own databases, with 1, 4 and 16 concurrent clients (each sends its next question
when the last one is answered), the server alone on the machine otherwise.

    python bench/serve_bench.py     -> bench/results/serve_bench.json
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "qwen2.5-coder-0.5b"
PER_CLIENT = {1: 16, 4: 8, 16: 4}  # questions each client asks at that concurrency


def questions(n: int) -> tuple[list[tuple[str, str]], list[str]]:
    """A seeded sample of Spider dev questions on its 4 largest databases, and their files."""
    from alignsql.data import registry
    ds = registry.load("spider:dev")
    counts: dict[str, int] = {}
    for e in ds.examples:
        counts[e.db_id] = counts.get(e.db_id, 0) + 1
    dbs = sorted(counts, key=lambda d: -counts[d])[:4]
    pool = [(e.question, e.db_id) for e in ds.examples if e.db_id in dbs]
    return random.Random(0).sample(pool, n), [str(ds.db_path(d)) for d in dbs]


def serve(dbs: list[str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "alignsql.cli.main", "serve", "--model", MODEL,
            "--port", str(port), "--max-new-tokens", "160"]
    for db in dbs:
        args += ["--db", db]
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx
    for _ in range(600):
        try:
            httpx.get(f"{url}/v1/databases", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start")


def load(url: str, work: list[tuple[str, str]], clients: int) -> dict:
    import httpx
    lat: list[float] = []
    errors = 0

    def client(chunk: list[tuple[str, str]]) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=600) as c:
            for q, db in chunk:
                t = time.perf_counter()
                r = c.post("/v1/ask", json={"question": q, "db": db})
                lat.append((time.perf_counter() - t) * 1000)
                errors += r.status_code != 200
    chunks = [work[i::clients] for i in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, chunks))
    wall = time.perf_counter() - start
    lat.sort()
    return {"n": len(lat), "qps": len(lat) / wall, "p50_ms": lat[len(lat) // 2],
            "p95_ms": lat[min(len(lat) - 1, int(0.95 * len(lat)))], "errors": errors,
            "load_avg": os.getloadavg()}


def main() -> None:
    total = max(c * n for c, n in PER_CLIENT.items())
    work, dbs = questions(total)
    proc, url = serve(dbs)
    try:
        load(url, work[:4], 1)  # warm-up: prefix caches, first-call costs
        result = {str(c): load(url, work[:c * n], c) for c, n in PER_CLIENT.items()}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = {"model": MODEL, "clients": result, "databases": [Path(d).stem for d in dbs],
           "cpus": os.cpu_count(), "command": "python bench/serve_bench.py"}
    (ROOT / "bench" / "results" / "serve_bench.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
