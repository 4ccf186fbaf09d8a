from alignsql.align.ngrams import keep, template_ngrams


def test_filter_rules() -> None:
    assert not keep(("(", ")"))                 # no keyword
    assert not keep((",", "SELECT"))            # starts with a comma
    assert not keep(("SELECT", ","))            # ends with a comma
    assert not keep(("COUNT", "("))            # unbalanced
    assert not keep((")", "FROM", "(",))        # closes before it opens
    assert keep(("COUNT", "(", "*", ")"))
    assert keep(("SELECT", ",", "FROM"))


def test_ngrams_by_hand() -> None:
    """SELECT COUNT ( * ) FROM with n <= 3 keeps: SELECT, COUNT, FROM, SELECT COUNT.
    Every other 2/3-gram has no keyword or unbalanced parentheses."""
    tokens = ("SELECT", "COUNT", "(", "*", ")", "FROM")
    assert sorted(template_ngrams(tokens, 3)) == sorted(["SELECT", "COUNT", "FROM",
                                                          "SELECT COUNT"])
    six = template_ngrams(tokens, 6)
    assert "COUNT ( * )" in six and "( * ) FROM" in six and "SELECT COUNT ( * ) FROM" in six
    assert "SELECT COUNT ( *" not in six


def test_fast_extraction_equals_filtering_every_slice() -> None:
    """The incremental extractor must keep exactly the slices ``keep`` accepts."""
    from collections import Counter
    tokens = tuple("SELECT COUNT ( * ) , MAX ( ) FROM ( SELECT FROM ) WHERE IN ( , ) "
                   "AND ) ( LIMIT".split())
    for max_n in (1, 3, 15):
        slow = [" ".join(tokens[i:i + n]) for n in range(1, max_n + 1)
                for i in range(len(tokens) - n + 1) if keep(tokens[i:i + n])]
        assert Counter(template_ngrams(tokens, max_n)) == Counter(slow)
