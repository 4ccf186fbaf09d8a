"""Numeric options are checked where they are read: 0, negative, NaN and infinite values of
every command's config are one-line errors naming the option (they were tracebacks from deep
inside TRL/PEFT, or silently meant "all")."""
import math

import pytest

from alignsql.errors import AlignSQLError

CASES = [
    ("alignsql.train.config", "SFTConfig", {}, [
        ("batch_size", 0), ("grad_accum", 0), ("learning_rate", -1), ("learning_rate", math.nan),
        ("lora_r", 0), ("epochs", 0), ("warmup_ratio", 5), ("val_fraction", 0.99),
        ("logging_steps", 0), ("save_steps", 0), ("group_size", 0), ("lora_dropout", 1.0),
        ("sample_values", -1)]),
    ("alignsql.models.predict", "PredictConfig", {}, [
        ("sample", -1), ("sample", 0), ("limit", 0), ("batch_size", 0), ("num_samples", 0),
        ("temperature", -0.5), ("max_new_tokens", 0), ("max_prompt_tokens", 8)]),
    ("alignsql.eval.run", "EvalConfig", {}, [
        ("ves_repeats", 0), ("timeout", math.nan), ("timeout", math.inf), ("timeout", 0),
        ("max_rows", 0), ("n_boot", 0), ("workers", 0), ("limit", 0)]),
    ("alignsql.align.run", "AlignConfig", {}, [
        ("n_boot", 0), ("target_sample", -1), ("kl_scale", 0), ("max_n", 0)]),
    ("alignsql.align.selection", "SelectConfig", {}, [("k", 0), ("target_sample", 0)]),
    ("alignsql.train.config", "SelfPlayConfig", {"pool": ["m"]}, [
        ("batch_size", 0), ("grad_accum", 0), ("learning_rate", math.nan), ("lam", 0),
        ("lora_r", 0), ("max_steps", 0), ("max_new_tokens", 0), ("max_length", 8),
        ("val_limit", 0), ("temperature", -1), ("save_steps", 0), ("warmup_ratio", 5),
        ("weight_decay", -0.1), ("k", 0), ("iterations", math.nan), ("sample_values", -1)]),
    ("alignsql.lrsql.config", "LRSQLConfig", {}, [
        ("max_steps", 0), ("max_steps", -2), ("epochs", 0), ("epochs", math.nan),
        ("none_per_positive", -1), ("n_train", 0), ("n_test", -1), ("batch_size", 0),
        ("learning_rate", 0), ("gen_batch_size", 0), ("group_size", 0), ("reserve", -1),
        ("sqlgen_max_length", 160), ("min_tables", 0), ("max_steps", math.nan),
        ("lora_r", 0), ("lora_dropout", 1.0), ("warmup_ratio", 5), ("weight_decay", -1)]),
]


@pytest.mark.parametrize("module, cls, base, name, value",
                         [(m, c, b, n, v) for m, c, b, bad in CASES for n, v in bad])
def test_bad_numbers_are_one_line_errors(module, cls, base, name, value) -> None:
    import importlib
    klass = getattr(importlib.import_module(module), cls)
    with pytest.raises(AlignSQLError) as err:
        klass(**base, **{name: value})
    message = str(err.value)
    assert name in message and "\n" not in message


def test_defaults_and_yaml_configs_still_load() -> None:
    from alignsql.align.run import AlignConfig
    from alignsql.align.selection import SelectConfig
    from alignsql.eval.run import EvalConfig
    from alignsql.models.predict import PredictConfig
    from alignsql.train.config import SFTConfig
    for klass in (SFTConfig, PredictConfig, EvalConfig, AlignConfig, SelectConfig):
        klass()


def test_every_shipped_yaml_config_loads() -> None:
    """configs/<method>/*.yaml parse into their command's dataclass (unknown keys, bad values
    and wrong types are errors), so a shipped config cannot rot unnoticed."""
    from pathlib import Path

    from alignsql import config
    from alignsql.lrsql.config import LRSQLConfig
    from alignsql.synth.config import SynthConfig
    from alignsql.train.config import SelfPlayConfig, SFTConfig
    root = Path(__file__).resolve().parent.parent / "configs"
    classes = {"sft": SFTConfig, "selfplay": SelfPlayConfig, "lrsql": LRSQLConfig,
               "synth": SynthConfig}
    loaded = [config.load_yaml(classes[p.parent.name], p)
              for p in sorted(root.glob("*/*.yaml")) if p.parent.name in classes]
    assert len(loaded) == len(list(root.glob("*/*.yaml"))) >= 8
