"""How fast this machine multiplies matrices in each precision, and which precision alignsql
runs when asked for bf16 or fp16 (alignsql.models.loading.compute_dtype).

One product of Qwen2.5-Coder-0.5B's MLP shape (2048 tokens x 896 -> 4864), the median of 5
after a warm-up, per dtype; GFLOP/s = 2 m k n / seconds. A CPU without AVX-512 has no oneDNN
bf16 or fp16 path and torch falls back to a scalar product. Run it alone (two cores).

    python bench/precision_probe.py    -> bench/results/precision_probe.json
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alignsql.models.loading import compute_dtype, native  # noqa: E402

M, K, N = 2048, 896, 4864
REPEATS = 5


def gflops(dtype: str) -> float:
    import torch
    kind = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(M, K, generator=gen).to(kind)
    b = torch.randn(K, N, generator=gen).to(kind)
    a @ b  # warm-up: kernel selection, first-touch of the output
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * M * K * N / statistics.median(times) / 1e9


def cpu() -> dict:
    """The CPU's name and the instruction sets that decide the half-precision paths."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = dict(x.split(":", 1) for x in info.splitlines() if ":" in x)
    flags = {k.strip(): v.strip() for k, v in lines.items()}.get("flags", "").split()
    return {"model": {k.strip(): v.strip() for k, v in lines.items()}.get("model name"),
            "cores": os.cpu_count(),
            "half_flags": sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2")))}


def main() -> dict:
    import torch
    dtypes = ("fp32", "bf16", "fp16")
    result = {"shape": [M, K, N], "repeats": REPEATS,
              "gflops": {d: gflops(d) for d in dtypes},
              "native": {d: native(d, "cpu") for d in dtypes},
              "runs_as": {d: compute_dtype(d, "cpu") for d in dtypes},
              "cpu": cpu(), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "load_avg_before": os.getloadavg()},
              "command": "python bench/precision_probe.py"}
    out = ROOT / "bench" / "results" / "precision_probe.json"
    out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
