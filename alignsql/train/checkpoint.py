"""Run directories and checkpoint I/O shared by every trainer."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from alignsql import config
from alignsql.errors import AlignSQLError

SETUP_FILES = {"config.yaml", "data.json", "groups.json", "metrics.jsonl", "checkpoints",
               "wall.json"}
"""What a run writes before its first complete checkpoint: a run that failed with nothing
more (a bad option found after setup, a crash in step 1) holds no work to protect."""


def holds_work(path: Path) -> bool:
    extra = [p for p in path.iterdir() if p.name not in SETUP_FILES]
    return bool(extra) or last_checkpoint(path) is not None


def run_dir(output_dir: str, name: str, resume: bool) -> Path:
    """The run's directory. An existing one is continued with ``--resume``; without it, a
    directory holding work is refused and one left by a failed start is cleared and reused."""
    path = Path(output_dir) / name
    if path.exists() and not resume:
        if holds_work(path):
            raise AlignSQLError(f"run directory {path} exists: pass --resume to continue it, "
                                f"or choose another name (name=...)")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def last_checkpoint(path: Path) -> str | None:
    ckpts = sorted((p for p in (path / "checkpoints").glob("checkpoint-*") if p.is_dir()),
                   key=lambda p: int(p.name.split("-")[-1]))
    # a checkpoint is complete once its trainer state is written (the last file saved)
    done = [p for p in ckpts if (p / "trainer_state.json").exists()]
    return str(done[-1]) if done else None


def save_config(cfg, path: Path) -> None:
    config.save(cfg, path / "config.yaml")


def save_merged(model, tokenizer, path: Path, prompt: dict | None = None) -> Path:
    """Base + adapter merged into plain weights, loadable by ``--model <run>/merged``; the
    prompt settings it was trained with go to prompt.json so inference renders the same."""
    out = path / "merged"
    tmp = path / "merged.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    merged = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(tmp)
    from alignsql.models.prompts import prompt_format
    (tmp / "prompt.json").write_text(json.dumps({**prompt_format(), **(prompt or {})}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def model_stamp(model: str | Path) -> str:
    """A model's path and, for a folder, when its config was written: work kept for a model
    (replies, log-probabilities) is not reused for another one saved at the same path."""
    config_file = Path(model) / "config.json"
    return f"{model}@{config_file.stat().st_mtime_ns}" if config_file.exists() else str(model)


def kept_for(path: Path, key: dict) -> dict | None:
    """What an earlier process wrote at ``path`` if it was written for ``key`` (each of its
    values equal), else None: a resumed run reuses work only when its inputs match."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    match = isinstance(saved, dict) and all(saved.get(k) == v for k, v in key.items())
    return saved if match else None


def write_json(path: Path, data: dict) -> None:
    """Whole or not at all (a process killed mid-write leaves the old file or none): resumed
    runs take an existing summary as finished work."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
