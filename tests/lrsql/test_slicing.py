"""Slicing invariants as property tests: coverage, budget, foreign-key grouping."""
from hypothesis import given, settings
from hypothesis import strategies as st

from alignsql.data.example import Column, ForeignKey, Schema, Table
from alignsql.lrsql.slicing import fk_components, slice_schema


def count(text: str) -> int:
    return len(text.split())


@st.composite
def schemas(draw):
    n = draw(st.integers(1, 25))
    tables = [Table(f"t{i}", [Column(f"c{j}", "INT") for j in range(draw(st.integers(1, 8)))],
                    ["c0"]) for i in range(n)]
    fks = [ForeignKey(f"t{a}", "c0", f"t{b}", "c0")
           for a, b in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                     max_size=n))]
    return Schema("s", tables, fks)


@settings(max_examples=150, deadline=None)
@given(schemas(), st.integers(10, 120), st.sampled_from(["fk", "random"]))
def test_slicing_invariants(schema: Schema, budget: int, mode: str) -> None:
    result = slice_schema(schema, count, budget, mode=mode, seed=3)
    placed = [t for s in result.slices for t in s]
    assert sorted(placed) == sorted(t.name for t in schema.tables)  # each table exactly once
    for i, s in enumerate(result.slices):
        assert s, "no empty slices"
        assert result.slice_cost(i) <= budget or (len(s) == 1 and s[0] in result.oversize)
    if mode == "fk":
        where = {t: i for i, s in enumerate(result.slices) for t in s}
        for comp in fk_components(schema):
            if sum(result.costs[t] for t in comp) <= budget:
                assert len({where[t] for t in comp}) == 1, comp  # kept together when it fits


def test_fk_tables_first_and_oversize_reported() -> None:
    big = Table("big", [Column(f"c{j}", "INT") for j in range(50)])
    a, b = Table("a", [Column("id", "INT")]), Table("b", [Column("a_id", "INT")])
    schema = Schema("s", [big, a, b], [ForeignKey("b", "a_id", "a", "id")])
    result = slice_schema(schema, count, budget=40)
    assert result.slices[0] == ["a", "b"]
    assert result.oversize == ["big"] and ["big"] in result.slices
