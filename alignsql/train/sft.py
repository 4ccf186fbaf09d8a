"""Supervised fine-tuning: TRL's SFTTrainer on prompt/completion pairs (loss on the SQL only),
LoRA through PEFT or full fine-tuning, one run directory, resumable.

    setup (config, data, model) -> fit (trainer) -> save (adapter, merged)
    -> evaluate (before/after)
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from alignsql.data.splits import check_clean, steered_by
from alignsql.errors import AlignSQLError
from alignsql.train.callbacks import (
    MetricsCallback,
    ProgressCallback,
    peak_rss_mb,
    read_metrics,
    train_seconds,
    trim_metrics,
    write_run_report,
)
from alignsql.train.checkpoint import last_checkpoint, run_dir, save_config, save_merged, write_json
from alignsql.train.config import SFTConfig, on_device
from alignsql.train.data import TrainingData, build_training_data
from alignsql.train.dist import is_main
from alignsql.train.losses import completion_loss
from alignsql.train.memory import pin_mmap_threshold
from alignsql.train.prefix import (
    GroupCollator,
    batch_item,
    make_batches,
    make_groups,
    sharing_stats,
)
from alignsql.train.runclock import RunClock


def _trl_args(cfg: SFTConfig, out: Path, has_val: bool, device: str):
    from trl import SFTConfig as TRLConfig

    from alignsql.models.loading import compute_dtype

    # one dataset item is one device step, made by alignsql.train.prefix.make_batches
    return TRLConfig(
        output_dir=str(out / "checkpoints"), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=1, per_device_eval_batch_size=1,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay, deepspeed=cfg.deepspeed, fsdp=cfg.fsdp,
        ddp_find_unused_parameters=False,
        fsdp_config=cfg.fsdp_config,
        optim=cfg.optimizer, logging_steps=cfg.logging_steps, save_steps=cfg.save_steps,
        save_total_limit=2, eval_strategy="steps" if has_val else "no", eval_steps=cfg.eval_steps,
        bf16=compute_dtype(cfg.dtype, device) == "bf16", seed=cfg.seed, data_seed=cfg.seed,
        report_to=cfg.report_to or "none",
        dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False,
        prediction_loss_only=True, train_sampling_strategy="random",
        activation_checkpointing=cfg.gradient_checkpointing, include_num_input_tokens_seen="all",
        use_cpu=device == "cpu", dataloader_num_workers=0, disable_tqdm=True,
        save_only_model=False)


def _peft_config(cfg: SFTConfig):
    if cfg.method == "full":
        return None
    from peft import LoraConfig
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=lora_targets(cfg), task_type="CAUSAL_LM")


def check_qlora(cfg: SFTConfig) -> None:
    """QLoRA (a 4-bit base through bitsandbytes) needs a CUDA GPU and bitsandbytes."""
    if cfg.method != "qlora":
        return
    import importlib.util

    import torch
    if not torch.cuda.is_available() or cfg.device == "cpu":
        raise AlignSQLError("method qlora needs a CUDA GPU (bitsandbytes 4-bit); use lora "
                            "with base_dtype: bf16 on this machine")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise AlignSQLError("method qlora needs bitsandbytes: pip install bitsandbytes")


def lora_targets(cfg: SFTConfig) -> str | list[str]:
    """PEFT's target_modules from the config's comma-separated names (or all-linear)."""
    names = [t.strip() for t in cfg.lora_targets.split(",") if t.strip()]
    return "all-linear" if names == ["all-linear"] else names


def check_lora_targets(cfg: SFTConfig) -> None:
    """The names must be modules of this model: checked on an empty (meta-device) copy of
    the architecture before any weight loads (PEFT's own error is a traceback from inside
    the trainer, after loading)."""
    wanted = lora_targets(cfg)
    if cfg.method == "full" or wanted == "all-linear":
        return
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from alignsql.models.loading import resolve
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(resolve(cfg.model)))
    names = {n.rsplit(".", 1)[-1]: type(m).__name__ for n, m in skeleton.named_modules()}
    missing = [t for t in wanted if t not in names]
    if missing:
        linear = sorted(n for n, kind in names.items() if kind == "Linear")
        raise AlignSQLError(f"lora_targets: {', '.join(missing)} not in this model; use "
                            f"all-linear or some of {', '.join(linear)}")


def setup(cfg: SFTConfig, resume: bool):
    from alignsql.models.loading import load
    # before the run directory: a config mistake leaves no half-made run behind
    check_qlora(cfg)
    check_lora_targets(cfg)
    if is_main():
        out = run_dir(cfg.output_dir, cfg.name, resume)
        save_config(cfg, out)
    else:  # other processes only train: the main one owns the directory
        out = Path(cfg.output_dir) / cfg.name
    # fp32 master weights for whatever trains; a LoRA base may be held in bf16 (PEFT keeps
    # the adapters in fp32) and a QLoRA base in 4 bits
    lm = load(cfg.model, dtype="fp32" if cfg.method == "full" else cfg.base_dtype,
              device=cfg.device, quantize_4bit=cfg.method == "qlora")
    data = build_training_data(cfg, lm.tokenizer)
    if is_main():
        write_json(out / "data.json", {"sources": data.sources, "n_train": len(data.train),
                                       "n_val": len(data.val), "skipped": dict(data.skipped),
                                       "prompts_shrunk_to_fit": data.shrunk,
                                       "refilled": data.refilled})
    return out, lm, data


def trainer_class(logits_only: bool):
    """TRL's SFTTrainer on ready-made steps of packed groups (alignsql.train.prefix): the loss
    is ``completion_loss`` and tokens seen count real tokens, not the 4-D mask's cells."""
    from trl import SFTTrainer

    class GroupedTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = {k: v for k, v in inputs.items() if k != "n_tokens"}
            loss = completion_loss(model, inputs, num_items_in_batch, logits_only)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                # the loss is over the tokens of every process's batch, and DDP averages the
                # gradients over processes: scale back up as the Trainer's own loss does
                loss = loss * (self.accelerator.num_processes if self.args.n_gpu <= 1
                               else self.args.n_gpu)
            return (loss, {"loss": loss}) if return_outputs else loss

        def _track_num_input_tokens(self, inputs):
            seen = self.accelerator.gather(inputs["n_tokens"].reshape(1)).sum()
            self.state.num_input_tokens_seen += int(seen)
    return GroupedTrainer


def steps_dataset(cfg: SFTConfig, recs: list[dict], seed: int):
    """The device steps of ``recs`` as a dataset (one item per step), and sharing stats."""
    from datasets import Dataset as HFDataset

    size = min(cfg.group_size, cfg.batch_size)
    groups = make_groups(recs, size, cfg.group_max_tokens, seed)
    batches = make_batches(recs, groups, cfg.batch_size, cfg.group_by_length, seed)
    return HFDataset.from_list([batch_item(recs, b) for b in batches]), sharing_stats(recs, groups)


def fit(cfg: SFTConfig, out: Path, lm, data: TrainingData, resume: bool,
        progress: bool = False):
    if cfg.release_memory and lm.device == "cpu":
        pin_mmap_threshold()
    train_set, stats = steps_dataset(cfg, data.train, cfg.seed)
    val_set = steps_dataset(cfg, data.val, cfg.seed)[0] if data.val else None
    if is_main():
        write_json(out / "groups.json", {**stats, "steps_per_epoch": len(train_set),
                                         "share_prefix": cfg.share_prefix})
    collator = GroupCollator(lm.tokenizer.pad_token_id, cfg.share_prefix,
                             getattr(lm.model.config, "_attn_implementation", "sdpa"))
    trainer = trainer_class(cfg.loss_logits_only)(
        model=lm.model, args=_trl_args(cfg, out, bool(data.val), lm.device),
        train_dataset=train_set, eval_dataset=val_set, data_collator=collator,
        processing_class=lm.tokenizer, peft_config=_peft_config(cfg),
        callbacks=[MetricsCallback(out / "metrics.jsonl"),
                   *([ProgressCallback()] if progress else [])])
    checkpoint = last_checkpoint(out) if resume else None
    done = finished_state(checkpoint, planned_steps(cfg, len(train_set)))
    if done is not None:  # killed after the last step (e.g. during the merged save)
        if is_main():
            trim_metrics(out / "metrics.jsonl", done["global_step"])
        return trainer, load_finished(trainer, checkpoint, done), checkpoint
    try:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    except (RuntimeError, MemoryError) as exc:
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            raise AlignSQLError("out of memory: lower batch_size, group_max_tokens or "
                                "max_length, or set gradient_checkpointing=true") from None
        raise
    return trainer, result, checkpoint


def planned_steps(cfg: SFTConfig, n_items: int) -> int:
    """Optimizer steps of the whole run, as the Trainer counts them (one item per step)."""
    if cfg.max_steps and cfg.max_steps > 0:
        return cfg.max_steps
    return math.ceil(cfg.epochs * math.ceil(n_items / cfg.grad_accum))


def finished_state(checkpoint: str | None, planned: int) -> dict | None:
    """The trainer state of a checkpoint taken at the run's last planned step, else None.
    Resuming from it with ``train()`` would run one step past max_steps (the stop check
    follows a step), so such a checkpoint is loaded instead of trained from."""
    if checkpoint is None:
        return None
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state if state.get("global_step", 0) >= planned else None


def load_finished(trainer, checkpoint: str, state: dict):
    from transformers.trainer_utils import TrainOutput
    trainer._load_from_checkpoint(checkpoint)  # noqa: SLF001 (the weights train() would load)
    ends = [h for h in state.get("log_history", []) if "train_loss" in h]
    losses = [h["loss"] for h in state.get("log_history", []) if "loss" in h]
    loss = ends[-1]["train_loss"] if ends else (sum(losses) / len(losses) if losses else 0.0)
    runtime = ends[-1].get("train_runtime") if ends else None
    return TrainOutput(state["global_step"], loss, {"train_runtime": runtime})


def save(cfg: SFTConfig, out: Path, trainer, lm) -> Path | None:
    # every process calls save_model (a sharded DeepSpeed / FSDP model is gathered for it);
    # transformers writes from the main one
    trainer.save_model(str(out / ("adapter" if cfg.method == "lora" else "model")))
    if not cfg.merge or not is_main():
        return None
    return save_merged(trainer.model, lm.tokenizer, out, prompt_settings(cfg))


def prompt_settings(cfg: SFTConfig) -> dict:
    """What inference needs to render prompts exactly as in training (prompt.json)."""
    return {"sample_values": cfg.sample_values, "max_prompt_tokens": cfg.prompt_budget}


def evaluate_target(cfg: SFTConfig, model: str, folder: Path) -> dict:
    """Predict and score a seeded sample of the target (questions with a database)."""
    from alignsql.eval.run import EvalConfig, run_eval
    from alignsql.models.predict import PredictConfig, run_predict

    pcfg = PredictConfig(model=model, dataset=cfg.eval, sample=cfg.eval_limit, with_db=True,
                         seed=cfg.seed, batch_size=cfg.eval_batch_size, device=cfg.device,
                         sample_values=cfg.sample_values, max_prompt_tokens=cfg.prompt_budget,
                         out=str(folder / "preds.jsonl"),
                         data_root=cfg.data_root)
    stats = run_predict(pcfg)
    _, summary = run_eval(EvalConfig(dataset=cfg.eval, preds=pcfg.out, only_predicted=True,
                                     out=str(folder), data_root=cfg.data_root))
    return {"ex": summary.ex, "n": summary.n_scored, "valid": summary.valid, "qps": stats["qps"]}


def _shared_with_eval(cfg: SFTConfig, data, log: Callable[[str], None]) -> int:
    """Eval questions that are also training questions, said aloud: public sets repeat each
    other's (spider:train holds 403 of geoquery:all's); ``exclude`` leaves them out."""
    from alignsql.data import registry
    from alignsql.data.overlap import shared
    n = len(shared(registry.load(cfg.eval, cfg.data_root).examples, data.question_keys))
    if n:
        log(f"warning: {n} of {cfg.eval}'s questions are also training questions "
            f"(exclude=[{cfg.eval}] leaves them out of training)")
    return n


def train(cfg: SFTConfig, resume: bool = False,
          log: Callable[[str], None] = lambda _: None, progress: bool = False) -> dict:
    """One SFT run; returns the summary also written to <run>/summary.json."""
    cfg = on_device(cfg, log)
    check_clean([s for spec in cfg.train for s in steered_by(spec)], cfg.eval, cfg.allow_leak,
                "train sft")
    out, lm, data = setup(cfg, resume)
    log(f"{len(data.train)} training and {len(data.val)} validation examples "
        f"({dict(data.skipped) or 'none'} skipped; {data.shrunk} prompts shrunk to fit)")
    summary: dict = {"run": str(out), "data": data.sources, "n_train": len(data.train)}
    if cfg.eval:
        summary["eval_questions_in_training"] = _shared_with_eval(cfg, data, log)
    if cfg.eval and is_main() and not (out / "eval" / "before" / "summary.json").exists():
        log(f"evaluating the base model on {cfg.eval}")
        summary["ex_before"] = evaluate_target(cfg, cfg.model, out / "eval" / "before")["ex"]
    with RunClock(out / "wall.json", enabled=is_main()) as clock:
        trainer, result, checkpoint = fit(cfg, out, lm, data, resume, progress)
        merged = save(cfg, out, trainer, lm)
    summary.update(train_loss=result.training_loss, steps=result.global_step,
                   resumed_from=checkpoint, peak_rss_mb=peak_rss_mb(),
                   # this process's; then a resumed run's over all its processes: the
                   # kept steps' training time, and fitting and saving (wall time, peak RSS)
                   train_runtime_s=result.metrics.get("train_runtime"),
                   train_seconds=train_seconds(read_metrics(out / "metrics.jsonl")),
                   all_processes=clock.totals(), merged=str(merged) if merged else None)
    if not is_main():
        return summary
    if cfg.eval and merged:
        log(f"evaluating the fine-tuned model on {cfg.eval}")
        summary["ex_after"] = evaluate_target(cfg, str(merged), out / "eval" / "after")["ex"]
        before = out / "eval" / "before" / "summary.json"
        if "ex_before" not in summary and before.exists():
            summary["ex_before"] = json.loads(before.read_text())["ex"]
    write_json(out / "summary.json", summary)
    write_run_report(out, summary, f"SFT run: {cfg.name}")
    return summary
