"""Two training processes (torchrun, CPU, gloo) must end with the weights of one process
that accumulates the same global batch: each process takes one step item, the loss is
normalised by the tokens of both and scaled back up because DDP averages gradients, and the
loss goes through the DDP wrapper (which syncs the gradients). Only rank 0 writes the run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
# --standalone: a free rendezvous port each time (two runs never collide on 29500)
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]


def _why(done: subprocess.CompletedProcess) -> str:
    """The workers' own messages (an abort's "terminate called ...") come before torchrun's
    summary; progress bars are dropped so that both fit."""
    lines = [x for x in done.stderr.splitlines() if "%|" not in x]
    return "\n".join(lines)[-4000:]


def _data(tmp_path: Path) -> str:
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps({"question": f"How many singers are older than {i}?",
                                       "sql": f"SELECT count(*) FROM singer WHERE age > {i}",
                                       "db_id": f"x{i % 3}"}) for i in range(24)))
    return f"file:{f}"


def _run(tmp_path: Path, tiny: Path, method: str, procs: int) -> Path:
    name = f"{method}_{procs}"
    cfg = dict(name=name, output_dir=str(tmp_path / "runs"), model=str(tiny),
               train=[_data(tmp_path)], max_length=256, batch_size=2, group_size=2,
               grad_accum=2 // procs, max_steps=3, logging_steps=1, save_steps=100,
               dtype="fp32", device="cpu", learning_rate=1e-3, val_fraction=0.0,
               warmup_ratio=0.0, group_by_length=False, method=method, lora_dropout=0.0,
               merge=False)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    launch = TORCHRUN + [str(procs)] if procs > 1 else [sys.executable]
    done = subprocess.run([*launch, "-m", "alignsql.cli.main", "train", "sft", "--config",
                           str(path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, _why(done)
    return tmp_path / "runs" / name


def _files(folder: Path, pattern: str = "*.safetensors") -> dict:
    from safetensors.torch import load_file
    return {k: v for f in sorted(folder.glob(pattern)) for k, v in load_file(f).items()}


def _weights(run: Path) -> dict:
    return _files(run, "*/*.safetensors")


@pytest.mark.parametrize("method", ["full", "lora"])
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, tiny_model_dir,
                                                            method) -> None:
    one = _run(tmp_path, tiny_model_dir, method, 1)
    two = _run(tmp_path, tiny_model_dir, method, 2)
    a, b = _weights(one), _weights(two)
    assert a.keys() == b.keys() and a
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5
    rows = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if r["loss"] is not None]
    assert steps == [1, 2, 3]  # one row per step, written by rank 0 only
    ref = [json.loads(x)["loss"] for x in (one / "metrics.jsonl").read_text().splitlines()]
    got = [r["loss"] for r in rows]
    assert torch.allclose(torch.tensor([x for x in got if x is not None]),
                          torch.tensor([x for x in ref if x is not None]), atol=1e-5)


def test_preference_loss_two_processes_equal_one(tmp_path, tiny_model_dir) -> None:
    """The self-play pair loss (a mean over pairs, divided over accumulation steps by the
    Trainer): 2 processes x 1 question per step = 1 process x 2 accumulated."""
    worker = Path(__file__).parent / "preference_worker.py"
    runs = {}
    for procs in (1, 2):
        out = tmp_path / f"pref_{procs}"
        launch = TORCHRUN + [str(procs)] if procs > 1 else [sys.executable]
        done = subprocess.run([*launch, str(worker), str(tiny_model_dir), str(out),
                               str(2 // procs)], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, _why(done)
        runs[procs] = _files(out)
    base = _files(tiny_model_dir)
    a, b = runs[1], runs[2]
    assert a.keys() == b.keys() and a
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5
    assert max((a[k] - base[k]).abs().max().item() for k in a if k in base) > 1e-4  # it trained
