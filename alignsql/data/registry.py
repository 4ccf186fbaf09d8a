"""Dataset specs: ``name:split`` or ``file:PATH``. One plain dict of what exists."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from alignsql.data import loaders
from alignsql.data.example import Dataset
from alignsql.errors import AlignSQLError
from alignsql.paths import data_root


@dataclass(frozen=True)
class DatasetInfo:
    load: Callable[[Path, str], Dataset]
    splits: tuple[str, ...]
    default: str
    marker: str
    """A path under the data root that must exist for the dataset to be listed."""
    about: str
    files: Callable[[Path, str], list[Path]]
    """The data files a split reads (their content keys the template cache)."""


_FOLDS = tuple(str(i) for i in range(10))
DATASETS: dict[str, DatasetInfo] = {
    "spider": DatasetInfo(loaders.load_spider, tuple(loaders.SPIDER_SPLITS), "dev",
                          "spider/tables.json", "Spider 1.0 (163 SQLite databases)", loaders.spider_files),
    "bird": DatasetInfo(loaders.load_bird, tuple(loaders.BIRD_SPLITS), "dev",
                        "bird/dev/dev.json", "BIRD (SQL, evidence, schemas; no databases)",
                        loaders.bird_files),
    "wikisql": DatasetInfo(partial(loaders.load_text2sql, name="wikisql"),
                           ("train", "dev", "test", "all"), "train",
                           "wikisql/wikisql.json.bz2", "WikiSQL in the text2sql-data format",
                           partial(loaders.text2sql_files, name="wikisql")),
    "kaggledbqa": DatasetInfo(loaders.load_kaggledbqa, ("all", "test", "fewshot"), "all",
                              "kaggledbqa/KaggleDBQA_tables.json", "KaggleDBQA (3 databases)",
                              loaders.kaggledbqa_files),
    "defog": DatasetInfo(loaders.load_defog, tuple(loaders.DEFOG_ALIASES), "sqlite",
                         "defog/sql-eval", "defog sql-eval questions, per dialect", loaders.defog_files),
    "gretel": DatasetInfo(loaders.load_gretel, ("all",), "all", "gretel/text_to_sql_first25.csv",
                          "Gretel synthetic_text_to_sql (sample)", loaders.gretel_files),
}
for _name in loaders.TEXT2SQL:
    _folded = _name in ("restaurants", "academic", "imdb", "yelp")
    DATASETS[_name] = DatasetInfo(
        partial(loaders.load_text2sql, name=_name),
        (("all",) + _FOLDS) if _folded else ("train", "dev", "test", "all"),
        "all" if _folded else "train", f"text2sql-data/{_name}.json",
        f"text2sql-data {_name} (question split{'; 10 folds' if _folded else ''})",
        partial(loaders.text2sql_files, name=_name))
ALIASES = {"geoquery": "geography", "geo": "geography"}


def parse_spec(spec: str) -> tuple[str, str]:
    """``spider:dev`` -> ("spider", "dev"); ``atis`` -> ("atis", its default split)."""
    if spec.startswith("file:"):
        return "file", spec[5:]
    name, _, split = spec.partition(":")
    name = ALIASES.get(name.lower(), name.lower())
    if name not in DATASETS:
        raise AlignSQLError(
            f"unknown dataset {spec!r}: use name:split with one of {', '.join(sorted(DATASETS))}, "
            f"or file:PATH")
    info = DATASETS[name]
    split = split or info.default
    if split not in info.splits:
        raise AlignSQLError(f"unknown split {split!r} for {name}: one of {', '.join(info.splits)}")
    return name, split


def load(spec: str, root: str | Path | None = None) -> Dataset:
    """Load a dataset by spec. ``file:`` paths need no data root; ``@steer`` / ``@test``
    (alignsql.data.splits) take one part of it."""
    from alignsql.data import splits
    base, part = splits.split_part(spec)
    if part:
        return splits.take(load(base, root), part)
    name, split = parse_spec(spec)
    if name == "file":
        path = Path(split)
        if not path.exists():
            raise AlignSQLError(f"{path}: file not found (from dataset spec {spec!r})")
        return loaders.load_file(path)
    base = data_root(root)
    if not (base / DATASETS[name].marker).exists():
        raise AlignSQLError(f"dataset {name} not found under {base} "
                            f"(missing {DATASETS[name].marker})")
    ds = DATASETS[name].load(base, split)
    ds.name = f"{name}:{split}"
    return ds


def files(spec: str, root: str | Path | None = None) -> list[Path]:
    """The files a spec reads, without loading it."""
    from alignsql.data import splits
    name, split = parse_spec(splits.split_part(spec)[0])
    if name == "file":
        return [Path(split)]
    return DATASETS[name].files(data_root(root), split)


def available(root: str | Path | None = None) -> list[tuple[str, DatasetInfo]]:
    base = data_root(root)
    return [(n, i) for n, i in DATASETS.items() if (base / i.marker).exists()]
