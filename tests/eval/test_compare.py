import pytest

from alignsql.eval.compare import normalize, order_matters, results_match


def test_order() -> None:
    """Same rows, other order: equal as bags, not as lists."""
    assert results_match([(1,), (2,)], [(2,), (1,)], order_matters=False)
    assert not results_match([(1,), (2,)], [(2,), (1,)], order_matters=True)


def test_duplicates_are_counted() -> None:
    """Bags: {1,1,2} != {1,2,2} though both have the values {1,2}; lengths must agree."""
    assert not results_match([(1,), (1,), (2,)], [(1,), (2,), (2,)])
    assert not results_match([(1,), (1,), (2,)], [(1,), (2,)])
    assert results_match([(1,), (1,), (2,)], [(1,), (2,), (1,)])


def test_column_permutation() -> None:
    """Columns may come in any order; rows must still pair the same values."""
    assert results_match([(1, "a"), (2, "b")], [("a", 1), ("b", 2)])
    assert not results_match([(1, "a"), (2, "b")], [("a", 2), ("b", 1)])


def test_quick_rejection_case() -> None:
    """Per-column value sets agree ({1,3} and {2,4}) but no permutation matches the rows."""
    assert not results_match([(1, 2), (3, 4)], [(1, 4), (3, 2)])


def test_identical_columns() -> None:
    assert results_match([(1, 1), (2, 2)], [(2, 2), (1, 1)])


def test_permutation_search_is_exact_beyond_seven_columns() -> None:
    """Eight columns, each a permutation of 0..5, every row distinct: the predicted columns
    in reverse order are the same result (the old 5,040-order cap scored it wrong); moving
    one cell between rows keeps every column's values and must not match."""
    cols = [[(i * 5 + k) % 6 for i in range(6)] for k in range(8)]
    gold = list(zip(*cols))
    assert results_match(gold, [tuple(reversed(r)) for r in gold])
    bad = [tuple(reversed(r)) for r in gold]
    bad[0], bad[1] = bad[0][:-1] + (bad[1][-1],), bad[1][:-1] + (bad[0][-1],)
    assert not results_match(gold, bad)
    wide = [tuple([v] * 12) for v in range(3)]  # 12 identical columns: 12! orders, one class
    assert results_match(wide, wide[::-1])


def test_numbers() -> None:
    """1 == 1.0; floats equal after rounding to 6 decimals: 0.1 + 0.2 -> 0.3, 1.0000001 -> 1.
    1.001 stays different from 1.0."""
    assert results_match([(1,)], [(1.0,)])
    assert results_match([(0.3,)], [(0.1 + 0.2,)])
    assert results_match([(1.0,)], [(1.0000001,)])
    assert not results_match([(1.0,)], [(1.001,)])
    assert normalize(-0.0) == 0 and normalize(True) == 1


def test_nulls() -> None:
    assert results_match([(None,)], [(None,)])
    assert not results_match([(None,)], [(0,)])
    assert not results_match([(None,)], [("",)])


def test_shapes() -> None:
    assert results_match([], [])
    assert not results_match([], [(1,)])
    assert not results_match([(1, 2)], [(1,)])


@pytest.mark.parametrize("sql,expected", [
    ("SELECT a FROM t ORDER BY a", True),
    ("SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 3)", False),
    ("SELECT a FROM t WHERE b IN (SELECT b FROM u ORDER BY b LIMIT 1)", False),
    ("SELECT 'order by' FROM t", False),
    ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
])
def test_order_matters_from_ast(sql: str, expected: bool) -> None:
    assert order_matters(sql) is expected
