"""Precision as the device runs it: a half precision without a fast path becomes fp32."""
from __future__ import annotations

import pytest
import torch

from alignsql.models import loading
from alignsql.train.config import SFTConfig, on_device


@pytest.fixture
def no_fast_half(monkeypatch):
    """A device like a 2-core AVX2 EPYC: bf16 and fp16 only on torch's scalar fallback."""
    monkeypatch.setattr(loading, "native", lambda dtype, device: dtype == "fp32")


@pytest.fixture
def fast_half(monkeypatch):
    monkeypatch.setattr(loading, "native", lambda dtype, device: True)


def test_half_precision_without_a_fast_path_runs_in_fp32(no_fast_half) -> None:
    assert [loading.compute_dtype(d, "cpu") for d in ("bf16", "fp16", "fp32")] == ["fp32"] * 3


def test_native_half_precision_is_kept(fast_half) -> None:
    assert [loading.compute_dtype(d, "cpu") for d in ("bf16", "fp16", "fp32")] == [
        "bf16", "fp16", "fp32"]


def test_fp32_is_native_everywhere_and_a_bad_dtype_is_left_to_the_loader() -> None:
    assert loading.native("fp32", "cpu")
    assert loading.compute_dtype("int3", "cpu") == "int3"
    with pytest.raises(loading.AlignSQLError, match="dtype must be one of"):
        loading._torch_dtype("int3")


def test_load_says_and_records_the_precision_it_used(no_fast_half, tiny_model_dir) -> None:
    said: list[str] = []
    lm = loading.load(str(tiny_model_dir), dtype="bf16", device="cpu", log=said.append)
    assert lm.dtype == "fp32"
    assert {p.dtype for p in lm.model.parameters()} == {torch.float32}
    assert len(said) == 1 and "bf16 is not native" in said[0]


def test_load_keeps_a_native_bf16(fast_half, tiny_model_dir) -> None:
    lm = loading.load(str(tiny_model_dir), dtype="bf16", device="cpu")
    assert lm.dtype == "bf16" and {p.dtype for p in lm.model.parameters()} == {torch.bfloat16}


def test_a_config_records_the_precision_that_runs(no_fast_half) -> None:
    """dtype and base_dtype both fall back, once, with one line said; the saved config
    (written from the returned one) then says fp32."""
    said: list[str] = []
    cfg = on_device(SFTConfig(dtype="bf16", base_dtype="bf16", device="cpu"), said.append)
    assert (cfg.dtype, cfg.base_dtype) == ("fp32", "fp32")
    assert len(said) == 1 and "dtype and base_dtype" in said[0]


def test_a_config_on_a_native_device_is_returned_as_is(fast_half) -> None:
    cfg = SFTConfig(dtype="bf16", base_dtype="bf16", device="cpu")
    assert on_device(cfg) is cfg


def test_predict_records_the_precision_it_answered_in(no_fast_half, tiny_model_dir, data_root,
                                                      tmp_path) -> None:
    from alignsql.models.predict import PredictConfig, run_predict
    stats = run_predict(PredictConfig(model=str(tiny_model_dir), dataset="spider:dev", sample=2,
                                      with_db=True, max_new_tokens=2, dtype="bf16", device="cpu",
                                      backend="hf", out=str(tmp_path / "p.jsonl"),
                                      data_root=str(data_root)))
    assert stats["answered"] == 2 and stats["dtype"] == "fp32"
