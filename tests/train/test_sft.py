"""SFT on the tiny random Llama: real TRL/PEFT code paths in seconds."""
import json
from pathlib import Path

import pytest
import torch

from alignsql import config
from alignsql.errors import AlignSQLError
from alignsql.train.config import SFTConfig

REPO = Path(__file__).resolve().parents[2]


def _data(tmp_path: Path, n: int = 24) -> str:
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps({"question": f"How many singers are older than {i}?",
                                       "sql": f"SELECT count(*) FROM singer WHERE age > {i}",
                                       "db_id": "x"}) for i in range(n)))
    return f"file:{f}"


def _cfg(tmp_path: Path, tiny: Path, **kw) -> SFTConfig:
    base = dict(name="t", output_dir=str(tmp_path / "runs"), model=str(tiny),
                train=[_data(tmp_path)], max_length=256, batch_size=4, max_steps=4,
                logging_steps=1, save_steps=2, eval_steps=2, dtype="fp32", device="cpu",
                learning_rate=1e-2, val_fraction=0.1, group_by_length=False)
    base.update(kw)
    return SFTConfig(**base)


def test_every_config_yaml_loads(monkeypatch) -> None:
    """Every YAML under configs/, recursively, into the dataclass of its folder (paths in
    them, like a DeepSpeed JSON, are relative to the repository)."""
    monkeypatch.chdir(REPO)
    from alignsql.lrsql.config import LRSQLConfig
    from alignsql.synth.config import SynthConfig
    from alignsql.train.config import SelfPlayConfig
    classes = {"sft": SFTConfig, "lrsql": LRSQLConfig, "selfplay": SelfPlayConfig,
               "synth": SynthConfig}
    files = sorted((REPO / "configs").rglob("*.yaml"))
    files = [f for f in files if f.parent.name != "deepspeed"]
    assert len(files) >= 4
    for f in files:
        folder = f.relative_to(REPO / "configs").parts[0]
        assert folder in classes, f"no config class for configs/{folder}/"
        config.load_yaml(classes[folder], f)  # unknown keys or bad types would raise


def test_lora_changes_only_adapters_and_masks_prompt(tmp_path, tiny_model_dir) -> None:
    from alignsql.train import sft
    cfg = _cfg(tmp_path, tiny_model_dir)
    out, lm, data = sft.setup(cfg, resume=False)
    base = {k: v.detach().clone() for k, v in lm.model.named_parameters()}
    trainer, result, _ = sft.fit(cfg, out, lm, data, resume=False)
    assert torch.isfinite(torch.tensor(result.training_loss))
    changed = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert changed and all("lora_" in n for n in changed)
    for name, p in trainer.model.named_parameters():
        clean = name.replace("base_model.model.", "").replace(".base_layer", "")
        if "lora_" in name:
            if "lora_B" in name:
                assert p.abs().sum() > 0, name  # B starts at zero: non-zero means it trained
        elif clean in base:
            assert torch.equal(p.detach(), base[clean]), name
    # only SQL tokens (and EOS) carry loss: each member's completion, once
    item = trainer.train_dataset[0]
    batch = trainer.data_collator([item])
    labels = batch["labels"][0]
    eos = lm.tokenizer.eos_token
    pieces = lm.tokenizer.decode(labels[labels != -100]).split(eos)
    assert pieces[-1] == "" and len(pieces) - 1 == item["n_examples"] == 4
    assert set(pieces[:-1]) <= {r["completion"] for r in data.train}
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["loss"] is not None for r in rows) and any(r["eval_loss"] is not None for r in rows)
    assert all(r["tokens_per_s"] is not None for r in rows if r["loss"] is not None)


def test_full_run_directory_and_resume(tmp_path, tiny_model_dir) -> None:
    from alignsql.train.sft import train
    cfg = _cfg(tmp_path, tiny_model_dir, method="full", max_steps=2)
    summary = train(cfg)
    run = tmp_path / "runs" / "t"
    for name in ("config.yaml", "metrics.jsonl", "data.json", "summary.json", "merged/config.json",
                 "report.html"):
        assert (run / name).exists(), name
    assert "<polyline" in (run / "report.html").read_text()  # the loss curve
    assert summary["steps"] == 2
    with pytest.raises(AlignSQLError, match="--resume"):
        train(cfg)
    longer = _cfg(tmp_path, tiny_model_dir, method="full", max_steps=4)
    summary = train(longer, resume=True)
    assert summary["resumed_from"].endswith("checkpoint-2") and summary["steps"] == 4
    # time over both processes: the training clock runs on across the resume
    rows = (run / "metrics.jsonl").read_text().splitlines()
    elapsed = [json.loads(x)["elapsed_s"] for x in rows]
    assert elapsed == sorted(elapsed) and summary["train_seconds"] == elapsed[-1]
    assert summary["all_processes"]["processes"] == 2
    from alignsql.models.loading import load
    assert load(str(run / "merged"), dtype="fp32", device="cpu").model is not None


def test_bad_configs(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("name: x\nlearning_rat: 1e-4\n")
    with pytest.raises(AlignSQLError, match="unknown key"):
        config.load_yaml(SFTConfig, f)
    f.write_text("method: dora\n")
    with pytest.raises(AlignSQLError, match="method"):
        config.load_yaml(SFTConfig, f)
    with pytest.raises(AlignSQLError, match="no training example fits"):
        from alignsql.train.data import build_training_data
        class Tok:
            def __call__(self, s, add_special_tokens=False):
                return {"input_ids": list(range(10_000))}
        build_training_data(SFTConfig(train=[_data(tmp_path)], max_length=64), Tok())


def test_resume_from_the_final_checkpoint_trains_no_step_and_trims_metrics(
        tmp_path, tiny_model_dir) -> None:
    """A run killed while saving its merged model resumes from checkpoint-max_steps: it must
    not train one step past max_steps, and metrics.jsonl keeps no row of a step after the
    checkpoint it resumes from."""
    from alignsql.train.sft import train
    cfg = _cfg(tmp_path, tiny_model_dir, method="full", max_steps=2)
    train(cfg)
    run = tmp_path / "runs" / "t"
    (run / "summary.json").unlink()  # as if killed during the merged save
    import shutil
    shutil.rmtree(run / "merged")
    with open(run / "metrics.jsonl", "a") as fh:  # a row of a step the killed run never saved
        fh.write(json.dumps({"step": 3, "loss": 9.9}) + "\n")
    summary = train(cfg, resume=True)
    assert summary["steps"] == 2 and summary["resumed_from"].endswith("checkpoint-2")
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 2
    assert (run / "merged" / "config.json").exists()


def test_failed_start_does_not_block_the_corrected_rerun(tmp_path, tiny_model_dir) -> None:
    """A config mistake found without the data (LoRA targets) leaves no run folder; one found
    with it (no example fits max_length) leaves the folder with its config, which the
    corrected rerun clears instead of asking for --resume."""
    from alignsql.train.sft import train
    with pytest.raises(AlignSQLError, match="lora_targets"):
        train(_cfg(tmp_path, tiny_model_dir, lora_targets="no_such_proj", max_steps=1))
    assert not (tmp_path / "runs" / "t").exists()
    with pytest.raises(AlignSQLError, match="no training example fits"):
        train(_cfg(tmp_path, tiny_model_dir, max_length=64, max_steps=1))
    assert (tmp_path / "runs" / "t" / "config.yaml").exists()
    assert train(_cfg(tmp_path, tiny_model_dir, max_steps=1))["steps"] == 1


def test_deepspeed_config_is_zero3_with_auto_sizes(monkeypatch) -> None:
    """The shipped 8-GPU config: ZeRO-3, batch sizes and precision left to transformers
    ("auto": filled from the SFT config so the two cannot disagree), 16-bit weights gathered
    on save (a mergeable adapter)."""
    monkeypatch.chdir(REPO)
    cfg = config.load_yaml(SFTConfig, REPO / "configs/sft/qwen2.5-coder-7b_lora_deepspeed_zero3.yaml")
    ds = json.loads(Path(cfg.deepspeed).read_text())
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    for key in ("train_batch_size", "train_micro_batch_size_per_gpu",
                "gradient_accumulation_steps"):
        assert ds[key] == "auto"
    assert cfg.base_dtype == "bf16" and cfg.method == "lora" and cfg.report_to == ["tensorboard"]


def test_pass_through_keys_are_checked(tmp_path) -> None:
    with pytest.raises(AlignSQLError, match="deepspeed: .* not found"):
        SFTConfig(deepspeed=str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(AlignSQLError, match="not valid JSON"):
        SFTConfig(fsdp_config=str(tmp_path / "bad.json"))
    with pytest.raises(AlignSQLError, match="report_to"):
        SFTConfig(report_to=["wandbx"])
    with pytest.raises(AlignSQLError, match="lr_scheduler"):
        SFTConfig(lr_scheduler="cosyne")
    with pytest.raises(AlignSQLError, match="base_dtype"):
        SFTConfig(method="full", base_dtype="bf16")


def test_qlora_is_a_clear_error_without_a_gpu(tmp_path, tiny_model_dir) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from alignsql.train.sft import train
    with pytest.raises(AlignSQLError, match="qlora needs a CUDA GPU"):
        train(_cfg(tmp_path, tiny_model_dir, method="qlora"))


def test_lora_on_a_bf16_base_trains_fp32_adapters(tmp_path, tiny_model_dir, monkeypatch) -> None:
    from alignsql.models import loading
    from alignsql.train import sft
    # a device with fast bf16 (on one without, the base loads in fp32: tests/models/test_loading)
    monkeypatch.setattr(loading, "native", lambda dtype, device: True)
    cfg = _cfg(tmp_path, tiny_model_dir, base_dtype="bf16", max_steps=2)
    out, lm, data = sft.setup(cfg, resume=False)
    trainer, result, _ = sft.fit(cfg, out, lm, data, resume=False)
    dtypes = {("lora_" in n): p.dtype for n, p in trainer.model.named_parameters()}
    assert dtypes == {True: torch.float32, False: torch.bfloat16}
    assert torch.isfinite(torch.tensor(result.training_loss))


def test_a_run_without_fast_bf16_trains_and_saves_fp32(tmp_path, tiny_model_dir,
                                                         monkeypatch) -> None:
    """Asked for bf16 on a device without a fast bf16 path, the run trains in fp32 (no
    autocast, fp32 base) and its saved config says so."""
    import yaml

    from alignsql.models import loading
    from alignsql.train import sft
    monkeypatch.setattr(loading, "native", lambda dtype, device: dtype == "fp32")
    said: list[str] = []
    summary = sft.train(_cfg(tmp_path, tiny_model_dir, dtype="bf16", base_dtype="bf16",
                             max_steps=1, merge=False), log=said.append)
    saved = yaml.safe_load((Path(summary["run"]) / "config.yaml").read_text())
    assert (saved["dtype"], saved["base_dtype"]) == ("fp32", "fp32")
    assert any("running in fp32" in line for line in said)
