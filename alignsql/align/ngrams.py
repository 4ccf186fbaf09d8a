"""n-gram features of structural templates (the alignment paper's feature set).

A dataset becomes a bag of template n-grams, n = 1..max_n (default 15, as in the paper),
keeping only n-grams that say something about SQL structure: each must contain a keyword
(a token with a letter), must not start or end with a comma, and its parentheses must
balance (no ``)`` before its ``(``, as many of each).
"""
from __future__ import annotations

from functools import lru_cache

DEFAULT_MAX_N = 15


def _is_word(token: str) -> bool:
    return any(ch.isalpha() for ch in token)


def keep(gram: tuple[str, ...]) -> bool:
    """The paper's filter (see the module docstring)."""
    if gram[0] == "," or gram[-1] == ",":
        return False
    depth = 0
    for tok in gram:
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and any(_is_word(t) for t in gram)


@lru_cache(maxsize=200_000)
def template_ngrams(tokens: tuple[str, ...], max_n: int = DEFAULT_MAX_N) -> tuple[str, ...]:
    """Every kept n-gram of one template, with repeats, as space-joined strings.

    Equivalent to filtering every slice with ``keep``, but grows each n-gram from its start
    token, tracking depth and keyword presence, and stops at the first unmatched ``)`` (no
    longer n-gram from that start can balance): about 5x faster, and this runs per template.
    """
    words = [_is_word(t) for t in tokens]
    out: list[str] = []
    n_tok = len(tokens)
    for i in range(n_tok):
        if tokens[i] == ",":
            continue
        depth, has_word = 0, False
        for j in range(i, min(n_tok, i + max_n)):
            tok = tokens[j]
            if tok == "(":
                depth += 1
            elif tok == ")":
                depth -= 1
                if depth < 0:
                    break
            has_word = has_word or words[j]
            if depth == 0 and has_word and tok != ",":
                out.append(" ".join(tokens[i:j + 1]))
    return tuple(out)
