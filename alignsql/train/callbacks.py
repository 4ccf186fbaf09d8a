"""The metrics every trainer logs, with the same keys: metrics.jsonl in the run directory."""
from __future__ import annotations

import json
import resource
import time
from pathlib import Path

from transformers import TrainerCallback

METRIC_KEYS = ("step", "epoch", "loss", "eval_loss", "learning_rate", "grad_norm",
               "tokens_per_s", "tokens_seen", "peak_rss_mb", "cuda_peak_mb", "elapsed_s")


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux VmHWM, because ru_maxrss also carries the
    RSS a forked child copied from its parent (a notebook, a bench driver) across exec."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trim_metrics(path: Path, step: int) -> None:
    """On resume, drop the rows a killed run logged after the checkpoint it resumes from
    (those steps are trained again and would be logged twice), and a torn last row."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines(keepends=True):
        try:
            if json.loads(line)["step"] <= step and line.endswith("\n"):
                kept.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    path.write_text("".join(kept))


def train_seconds(rows: list[dict]) -> float:
    """Training seconds of the steps a run kept, over all its processes. ``elapsed_s`` runs on
    across a resume (``MetricsCallback``), so the last row holds the total; files written before
    that restarted it at 0 in each process: a row below its predecessor starts a new process,
    whose time adds to the maxima of the earlier ones. Hand check: elapsed 10, 20, 5, 15
    -> 20 + 15 = 35; elapsed 10, 20, 25 -> 25."""
    total, current, last = 0.0, 0.0, None
    for row in rows:
        t = row.get("elapsed_s")
        if not isinstance(t, (int, float)):
            continue
        if last is not None and t < last:
            total, current = total + current, 0.0
        current, last = max(current, t), t
    return total + current


def logged_peak_mb(rows: list[dict], *more: float | None) -> float | None:
    """The largest peak RSS the rows logged (every process of a resumed run), with ``more``."""
    peaks = [x for x in (*(r.get("peak_rss_mb") for r in rows), *more)
             if isinstance(x, (int, float))]
    return max(peaks) if peaks else None


def read_metrics(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl (a torn or foreign line is left out)."""
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class MetricsCallback(TrainerCallback):
    """Appends one row per log event; tokens/s counts the tokens of the batches trained on."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.start = time.perf_counter()
        self.last_time = self.start
        self.last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.last_time = time.perf_counter()
        self.last_tokens = state.num_input_tokens_seen or 0
        if state.is_world_process_zero:
            trim_metrics(self.path, state.global_step)
            # a resumed run's clock goes on from the last kept row: elapsed_s is the run's
            # training time so far, not this process's (the last row's, not train_seconds: in
            # a file whose earlier processes restarted at 0, that would count them twice)
            times = [r["elapsed_s"] for r in read_metrics(self.path)
                     if isinstance(r.get("elapsed_s"), (int, float))]
            self.start -= times[-1] if times else 0.0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:  # one row per step, not per process
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen or 0
        row = {k: None for k in METRIC_KEYS}
        row.update(step=state.global_step, epoch=state.epoch, loss=logs.get("loss"),
                   eval_loss=logs.get("eval_loss"), learning_rate=logs.get("learning_rate"),
                   grad_norm=logs.get("grad_norm"), tokens_seen=tokens,
                   tokens_per_s=(tokens - self.last_tokens) / max(now - self.last_time, 1e-9),
                   peak_rss_mb=peak_rss_mb(), cuda_peak_mb=_cuda_peak(),
                   elapsed_s=now - self.start)
        if logs.get("eval_loss") is None:  # eval rows do not advance the token clock
            self.last_time, self.last_tokens = now, tokens
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\n")


def _cuda_peak() -> float | None:
    import torch
    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


class ProgressCallback(TrainerCallback):
    """A progress bar over optimizer steps with ETA and the last loss (stderr)."""

    def __init__(self) -> None:
        self.bar = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from tqdm import tqdm
        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="training",
                        unit="step", dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and logs.get("loss") is not None:
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def loss_curves(path: Path) -> dict[str, list[tuple[float, float]]]:
    """(step, value) series of the training and validation loss from metrics.jsonl."""
    series: dict[str, list[tuple[float, float]]] = {"train loss": [], "validation loss": []}
    for row in read_metrics(path):
        for key, name in (("loss", "train loss"), ("eval_loss", "validation loss")):
            if isinstance(row.get(key), (int, float)):
                series[name].append((float(row["step"]), float(row[key])))
    return series


def write_run_report(out: Path, summary: dict, title: str) -> Path:
    """report.html of a training run: summary cards and the loss curves."""
    from alignsql.report import html as H
    cards = [(k, v) for k, v in summary.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)]
    body = [H.cards(cards), "<h2>Loss</h2>",
            H.line_chart({k: v for k, v in loss_curves(out / "metrics.jsonl").items() if v},
                         x_label="optimizer step", y_label="loss")]
    path = out / "report.html"
    path.write_text(H.page(title, "".join(body)), errors="replace")
    return path
