import dataclasses

import pytest

from alignsql import config
from alignsql.align.run import AlignConfig
from alignsql.errors import AlignSQLError


@dataclasses.dataclass
class Demo:
    steps: int = 10
    """How many steps."""
    lr: float = 1e-4
    """Learning rate."""
    names: list[str] = dataclasses.field(default_factory=list)
    """Some names."""
    flag: bool = False
    """A switch."""
    maybe: int | None = None
    """Optional."""


def test_yaml_unknown_key_is_an_error(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("steps: 3\nlearning_rate: 0.1\n")
    with pytest.raises(AlignSQLError, match="unknown key.*learning_rate"):
        config.load_yaml(Demo, f)


def test_yaml_types_and_overrides(tmp_path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("steps: 3\nnames: [a, b]\n")
    cfg = config.load_yaml(Demo, f, ["lr=0.5", "flag=true", "maybe=null"])
    assert cfg == Demo(steps=3, lr=0.5, names=["a", "b"], flag=True, maybe=None)
    with pytest.raises(AlignSQLError, match="steps"):
        config.load_yaml(Demo, f, ["steps=abc"])
    with pytest.raises(AlignSQLError, match="steps"):
        config.load_yaml(Demo, f, ["steps=1.5"])


def test_docstrings_become_help() -> None:
    assert config.field_docs(Demo)["lr"] == "Learning rate."
    assert all(config.field_docs(AlignConfig).get(f.name) for f in dataclasses.fields(AlignConfig))


def test_saved_config_round_trips(tmp_path) -> None:
    cfg = Demo(steps=7, names=["x"])
    path = config.save(cfg, tmp_path / "out" / "config.yaml")
    assert config.load_yaml(Demo, path) == cfg
