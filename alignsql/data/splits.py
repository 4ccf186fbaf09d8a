"""Clean splits: a dataset used to steer (alignment-steered selection or synthesis), to select
a model or to stop early is split into a held part and a disjoint rest, and results are
reported on the rest only.

A spec names a part with ``@``: ``spider:dev@steer`` (or ``@val``) is a seeded 30% of the
questions, ``spider:dev@test`` (or ``@fit``) the other 70%. The split depends only on the
dataset's name and question ids, so every command and every machine draws the same parts
(``part_ids`` lists them; runs record the spec in their config). A steered output (a
``select`` subset, a synthesis round) records what steered it beside itself
(``<file>.steer.json``), and training refuses to evaluate on what steered its data.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from alignsql.errors import AlignSQLError

HELD_FRACTION = 0.3
HELD, REST = ("steer", "val"), ("test", "fit")
PARTS = HELD + REST


def split_part(spec: str) -> tuple[str, str | None]:
    """``spider:dev@test`` -> ("spider:dev", "test"); no part -> (spec, None)."""
    if spec.startswith("file:") or "@" not in spec:
        return spec, None
    base, _, part = spec.rpartition("@")
    if part not in PARTS:
        raise AlignSQLError(f"unknown part {part!r} in dataset spec {spec!r}: one of "
                            f"{', '.join(PARTS)} (steer = val, a seeded 30%; test = fit, the rest)")
    return base, part


def part_ids(name: str, ids: list[str]) -> tuple[set[str], set[str]]:
    """(held, rest) question ids of a dataset: a seeded 30% / 70% split keyed by its name."""
    order = sorted(set(ids))
    random.Random(f"alignsql-split:{name}").shuffle(order)
    cut = round(len(order) * HELD_FRACTION)
    return set(order[:cut]), set(order[cut:])


def take(ds, part: str):
    """The dataset restricted to one part (examples filtered; schemas and databases kept)."""
    held, rest = part_ids(ds.name, [e.id for e in ds.examples])
    keep = held if part in HELD else rest
    ds.examples = [e for e in ds.examples if e.id in keep]
    ds.name = f"{ds.name}@{part}"
    return ds


def _normal(spec: str) -> tuple[str, str | None]:
    from alignsql.data.registry import parse_spec
    base, part = split_part(spec)
    name, split = parse_spec(base)
    return (f"{name}:{split}" if name != "file" else f"file:{Path(split).resolve()}"), part


def overlaps(steered: str, evaluated: str) -> bool:
    """Whether evaluating on ``evaluated`` reuses questions of ``steered``: same dataset, and
    not one held part against the other's rest."""
    (a, pa), (b, pb) = _normal(steered), _normal(evaluated)
    if a != b:
        return False
    disjoint = (pa in HELD and pb in REST) or (pa in REST and pb in HELD)
    return not disjoint


def record_steering(path: str | Path, specs: list[str]) -> None:
    """Note beside an output file which dataset specs steered or selected it."""
    Path(f"{path}.steer.json").write_text(json.dumps({"steered_by": specs}))


def steered_by(spec: str) -> list[str]:
    """The specs that steered a ``file:`` dataset (none for a named dataset)."""
    if not spec.startswith("file:"):
        return []
    note = Path(f"{spec[5:]}.steer.json")
    return json.loads(note.read_text())["steered_by"] if note.is_file() else []


def check_clean(used: list[str], evaluated: str | None, allow: bool, what: str) -> None:
    """Refuse to evaluate on questions used for steering, selection or stopping."""
    if not evaluated or allow:
        return
    for spec in used:
        if overlaps(spec, evaluated):
            base = split_part(evaluated)[0]
            raise AlignSQLError(
                f"{what}: evaluating on {evaluated} reuses {spec}, which steered or selected "
                f"this run; steer with {base}@steer and evaluate on {base}@test, or set "
                f"allow_leak=true to report a result that is not clean")
