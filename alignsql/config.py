"""Config dataclasses: one per command, YAML mirrors the fields, unknown keys are errors.

Help text is written once, as an attribute docstring under each field (as litgpt does);
``field_docs`` reads it from the source so argparse and docs share it.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

from alignsql.errors import AlignSQLError

C = TypeVar("C")


@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """Map each field to the string literal that follows it in the class body."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Strip ``X | None``; return (inner type, optional)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), True
    return tp, False


def coerce(cls: type, name: str, value: Any) -> Any:
    """Check/convert one value to the field's declared type; raise a one-line error."""
    hints = typing.get_type_hints(cls)
    tp, optional = _base_type(hints[name])
    if value is None:
        if optional:
            return None
        raise AlignSQLError(f"config key {name!r} may not be null")
    origin = typing.get_origin(tp)
    try:
        if origin is list:
            (item,) = typing.get_args(tp) or (str,)
            items = value if isinstance(value, list) else [value]
            return [item(v) for v in items]
        if origin is dict:
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
        if tp is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise TypeError
            return value
        if tp in (int, float) and isinstance(value, bool):
            raise TypeError
        if tp in (str, int, float) and isinstance(value, (list, dict)):
            raise TypeError  # str([...]) would silently become a different value
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise TypeError
        return tp(value)
    except (TypeError, ValueError):
        raise AlignSQLError(
            f"config key {name!r}: expected {getattr(tp, '__name__', tp)}, got {value!r}"
        ) from None


def from_dict(cls: type[C], data: dict[str, Any], source: str = "config") -> C:
    """Build a config; unknown keys and wrong types are errors naming the source."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise AlignSQLError(
            f"{source}: unknown key(s) {', '.join(unknown)} for {cls.__name__} "
            f"(known: {', '.join(sorted(known))})"
        )
    try:
        return cls(**{k: coerce(cls, k, v) for k, v in data.items()})
    except AlignSQLError as exc:
        raise AlignSQLError(f"{source}: {exc}") from None


def load_yaml(cls: type[C], path: str | Path, overrides: list[str] = ()) -> C:
    """Load a YAML config, then apply ``key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise AlignSQLError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise AlignSQLError(f"{path}: not UTF-8 text (byte {exc.start}); "
                            "save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise AlignSQLError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise AlignSQLError(f"{path}: expected a mapping of config keys")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise AlignSQLError(f"override {item!r} is not key=value")
        data[key.strip()] = yaml.safe_load(raw)
    return from_dict(cls, data, source=str(path))


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config next to an output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path


def add_arguments(parser: argparse.ArgumentParser, cls: type,
                  flags: dict[str, str] | None = None,
                  bare: dict[str, str] | None = None) -> None:
    """Add one ``--field-name`` option per field, help from the attribute docstring. A field
    in ``bare`` may be given without a value, meaning the value it maps to (``--ray``)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = (flags or {}).get(f.name, "--" + f.name.replace("_", "-"))
        tp, _ = _base_type(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        # argparse %-formats help text: a literal "95%" in a docstring must be escaped
        kwargs: dict[str, Any] = {"dest": f.name, "help": docs.get(f.name, "").replace("%", "%%"),
                                  "default": argparse.SUPPRESS}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(tp) is list:
            kwargs["action"] = "append"
            kwargs["metavar"] = f.name.upper()
        else:
            kwargs["metavar"] = f.name.upper()
        if f.name in (bare or {}):
            kwargs.update(nargs="?", const=bare[f.name])
        if default not in (None, [], "", dataclasses.MISSING) and not isinstance(default, bool):
            kwargs["help"] += f" (default: {default})"
        parser.add_argument(flag, **kwargs)


def from_args(cls: type[C], args: argparse.Namespace) -> C:
    """Build the config from parsed CLI options (only the ones the user gave)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    given = {k: v for k, v in vars(args).items() if k in names}
    return from_dict(cls, given, source="command line")


def _option(name: str) -> str:
    return f"{name} (--{name.replace('_', '-')})"


def at_least(cfg: Any, **minimums: float) -> None:
    """A one-line error for a numeric option below its minimum, or NaN / infinite (None, an
    unset optional, passes)."""
    import math
    for name, low in minimums.items():
        value = getattr(cfg, name)
        if value is None:
            continue
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= low):
            raise AlignSQLError(f"{_option(name)} must be a number >= {low:g}, not {value!r}")


def within(cfg: Any, **ranges: tuple[float, float]) -> None:
    """A one-line error for a numeric option outside [low, high)."""
    import math
    for name, (low, high) in ranges.items():
        value = getattr(cfg, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value)
                and low <= value < high):
            raise AlignSQLError(f"{_option(name)} must be in [{low:g}, {high:g}), not {value!r}")
