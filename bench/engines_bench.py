"""Generation backends side by side (#19): the same 200 seeded Spider dev questions (with a
database), Qwen2.5-Coder-0.5B, greedy, 160 new tokens, alignsql's prompts and stop rule; each
backend in a fresh process, one at a time: load s, queries/s, generated tokens/s, EX, peak RSS
of the process tree, and self-play-style sampling (k = 4, temperature 1) queries/s on the
first 50 of them. The machine's load average is recorded before and after each run.

    python bench/engines_bench.py [--run LABEL=BACKEND@PYTHON ...]
        -> bench/results/engines_bench.json

Default runs: hf and vllm with this interpreter. ``--run`` picks the interpreter per run (the
same backend in two environments, e.g. two transformers versions, under two labels).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's alignsql, whichever interpreter runs it
OUT = ROOT / "bench" / "out" / "engines"
MODEL = "qwen2.5-coder-0.5b"
N, N_SAMPLE, K, MAX_NEW = 200, 50, 4, 160


class PeakRSS:
    """Peak resident memory of this process and all its descendants (vLLM's engine core and
    workers are child processes), sampled every 0.2 s from /proc."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _tree(pid: int) -> list[int]:
        pids, todo = [], [pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            for task in Path(f"/proc/{p}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:
                    pass
        return pids

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, sum(self._rss_kb(p) for p in self._tree(os.getpid())))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak // 1024


def one(backend: str, label: str) -> dict:
    """Measure one backend in this process (files under bench/out/engines/<label>_*)."""
    from alignsql.data import registry
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.engines import open_engine
    from alignsql.models.predict import PredictConfig, choose_examples, predict

    OUT.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rss = PeakRSS()
    cfg = PredictConfig(model=MODEL, dataset="spider:dev", sample=N, with_db=True, seed=0,
                        max_new_tokens=MAX_NEW, backend=backend)
    ds = registry.load(cfg.dataset)
    examples = choose_examples(ds, cfg)
    start = time.perf_counter()
    engine = open_engine(backend, MODEL)
    load_s = time.perf_counter() - start
    greedy_out = OUT / f"{label}_greedy.jsonl"
    greedy_out.unlink(missing_ok=True)
    greedy = predict(engine, ds, examples, cfg, greedy_out)
    sample_cfg = PredictConfig(**{**cfg.__dict__, "num_samples": K, "temperature": 1.0})
    sample_out = OUT / f"{label}_sample.jsonl"
    sample_out.unlink(missing_ok=True)
    sampled = predict(engine, ds, examples[:N_SAMPLE], sample_cfg, sample_out)
    if hasattr(engine, "close"):
        engine.close()
    peak = rss.stop()
    load_after = os.getloadavg()[0]
    shutil.rmtree(OUT / f"{label}_eval", ignore_errors=True)
    _, summary = run_eval(EvalConfig(dataset="spider:dev", preds=str(greedy_out),
                                     only_predicted=True, out=str(OUT / f"{label}_eval")))
    import transformers
    return {"backend": backend, "engine": engine.name, "transformers": transformers.__version__, "n": greedy["answered"],
            "load_s": round(load_s, 2), "qps": greedy["qps"], "gen_tok_s": greedy["tokens_per_s"],
            "ex": summary.ex, "peak_rss_mb": peak, "sample_k": K, "sample_n": sampled["answered"],
            "sample_qps": sampled["qps"], "load_avg": [load_before, load_after]}


def paired(label: str, base: str) -> dict:
    """A run's EX against the base run's on the same questions (paired bootstrap, exact
    McNemar)."""
    from alignsql.eval import paired as P
    from alignsql.eval.run import EvalConfig
    cfg = EvalConfig(dataset="spider:dev", only_predicted=True,
                     compare=[str(OUT / f"{base}_eval" / "results.jsonl"),
                              str(OUT / f"{label}_eval" / "results.jsonl")])
    r = P.compare(cfg)
    keep = ("n", "ex_a", "ex_b", "diff", "ci", "p_value", "a_only", "b_only")
    return {k: r[k] for k in keep if k in r}


TCMALLOC = Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")


def preload(python: str) -> str:
    """vLLM's CPU build wants tcmalloc and Intel's OpenMP preloaded (Debian's
    libtcmalloc-minimal4; libiomp5 from the venv); empty when either is missing."""
    iomp = Path(python).parent.parent / "lib" / "libiomp5.so"  # the venv's, not its base's
    return f"{TCMALLOC}:{iomp}" if TCMALLOC.exists() and iomp.exists() else ""


def run_fresh(label: str, backend: str, python: str) -> dict:
    """One backend in a fresh process (its own memory, nothing warm from the last)."""
    env = dict(os.environ)
    if backend == "vllm" and preload(python):
        env["LD_PRELOAD"] = preload(python)
    proc = subprocess.run([python, __file__, "--one", backend, "--label", label], cwd=ROOT,
                          text=True, capture_output=True, env=env)
    (OUT / f"{label}.log").write_text(proc.stdout + proc.stderr)  # vLLM logs to stdout
    if proc.returncode != 0:
        return {"label": label, "backend": backend, "error": proc.stderr.strip().splitlines()[-1:]}
    return {"label": label, **json.loads(proc.stdout.strip().splitlines()[-1]), "python": python,
            "ld_preload": env.get("LD_PRELOAD", "")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--label", help=argparse.SUPPRESS)
    ap.add_argument("--run", action="append", default=[],
                    help="LABEL=BACKEND@PYTHON (default: hf and vllm with this interpreter)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.label or args.one)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    plan = [(r.split("=", 1)[0], *r.split("=", 1)[1].split("@", 1)) for r in args.run] or \
        [("hf", "hf", sys.executable), ("vllm", "vllm", sys.executable)]
    runs = []
    for label, backend, python in plan:
        print(f"{label}: running", file=sys.stderr, flush=True)
        runs.append(run_fresh(label, backend, python))
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    ok = [r for r in runs if "error" not in r]
    base = next((r for r in ok if r["backend"] == "hf"), None)  # the first hf run
    for run in ok:
        if base and run is not base:
            run["vs_" + base["label"]] = paired(run["label"], base["label"])
    fastest = max(ok, key=lambda r: r["qps"]) if ok else None
    # what `auto` picks: vllm where it is installed, else hf
    default = next((r for r in ok if r["backend"] == "vllm"), base)
    result = {"bench": "engines", "model": MODEL, "n": N, "max_new_tokens": MAX_NEW,
              "default_backend": default["backend"] if default else None, "runs": runs,
              "machine": {"cpus": os.cpu_count(), "uptime": subprocess.run(
                  ["uptime"], capture_output=True, text=True).stdout.strip()},
              "command": "python bench/engines_bench.py " + " ".join(sys.argv[1:]),
              "target": "default backend >= 2x hf queries/s at EX within 1 question in 100",
              "fastest": fastest["label"] if fastest else None}
    if default and base:
        result["default_speedup_vs_hf"] = default["qps"] / base["qps"]
        result["default_ex_minus_hf"] = default["ex"] - base["ex"]
    path = ROOT / "bench" / "results" / "engines_bench.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
