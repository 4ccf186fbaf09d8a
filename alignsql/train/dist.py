"""Which process of a multi-process run this is (torchrun, accelerate launch, deepspeed all
set RANK / WORLD_SIZE). Only the main process (rank 0) creates the run directory and writes
configs, metrics, summaries, merged models, reports and evaluations; every process trains."""
from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def shutdown() -> None:
    """Tear down the process group the Trainer opened, before the interpreter exits. Left to
    interpreter finalisation, gloo's worker threads can still hold tensors whose release needs
    the GIL, and a rank dies with SIGABRT after training finished (seen once in CI)."""
    import torch.distributed as tdist

    if tdist.is_available() and tdist.is_initialized():
        tdist.destroy_process_group()
