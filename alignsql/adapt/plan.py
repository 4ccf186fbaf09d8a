"""Sizing an ``alignsql adapt`` run to a time budget from throughput measured at its start.

    evaluation   2 models x the test questions, at the measured generation rate
    synthesis    the rest x ``SYNTH_SHARE``: each query costs a question and a round trip
    training     the rest: selected public examples + the synthetic pairs that survive

The shares are plain constants: a first plan a user can override (``n_select``, ``n_synth``).
The number of public examples is then refitted once synthesis has run (``fit_select``): a
training step costs about the same per token whatever the examples (the probe's 1,306-token
step and a real run's steps of 516 tokens ran at 86 and 98 tokens/s here), but examples
differ threefold in tokens, so the time left is turned into tokens and the selection sized to
them.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

SYNTH_SHARE = 0.35
"""Share of the non-evaluation budget spent writing and round-tripping synthetic pairs."""
KEEP_RATE = 0.3
"""Share of synthetic queries expected to survive the round trip (25-29% measured with Qwen,
docs/results.md), used only to size the plan."""
MIN_SELECT, MIN_SYNTH = 16, 8


@dataclass
class Plan:
    budget_min: float
    gen_qps: float
    """Generated answers per second, measured."""
    train_eps: float
    """Training examples per second (prefix-shared), measured on the probe's group."""
    train_tps: float
    """Training tokens per second (packed rows), measured on the same step."""
    n_test: int
    n_select: int
    n_synth: int
    eval_min: float
    synth_min: float
    train_min: float

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"plan for {self.budget_min:g} min: evaluate 2 models on {self.n_test} test "
                f"questions (~{self.eval_min:.0f} min), synthesize {self.n_synth} queries "
                f"(~{self.synth_min:.0f} min), train on {self.n_select} selected examples + "
                f"the synthetic pairs kept (~{self.train_min:.0f} min; the selection is "
                f"resized to the time left after synthesis); measured {self.gen_qps:.2f} "
                f"answers/s and {self.train_tps:.0f} training tokens/s")


def make_plan(budget_min: float, gen_qps: float, train_eps: float, train_tps: float,
              n_test: int, n_select: int | None = None, n_synth: int | None = None) -> Plan:
    """Split ``budget_min`` between evaluation, synthesis and training."""
    eval_min = 2 * n_test / gen_qps / 60
    rest = max(budget_min - eval_min, 0.0)
    if n_synth is None:
        n_synth = max(MIN_SYNTH, math.floor(rest * SYNTH_SHARE * 60 * gen_qps / 2))
    synth_min = 2 * n_synth / gen_qps / 60
    if n_select is None:
        left = max(budget_min - eval_min - synth_min, 0.0) * 60 * train_eps
        n_select = max(MIN_SELECT, math.floor(left - n_synth * KEEP_RATE))
    train_min = (n_select + n_synth * KEEP_RATE) / train_eps / 60
    return Plan(budget_min, gen_qps, train_eps, train_tps, n_test, n_select, n_synth, eval_min,
                synth_min, train_min)


def fit_select(k: int, tokens_of: Callable[[int], int], budget_tokens: float, k_min: int,
               k_max: int, tries: int = 4, tol: float = 0.1) -> tuple[int, list[tuple[int, int]]]:
    """The number of public examples whose training data (with the synthetic pairs) fills
    ``budget_tokens``: tokens grow roughly in proportion to the examples (a little less: more
    examples share each schema prefix), so ``k`` is rescaled by budget / tokens until the data
    lands within ``tol`` below the budget, ``tries`` times at most. Returns the largest tried
    ``k`` that fits (else the smallest tried) and every
    (k, tokens) tried."""
    def clamp(x: int) -> int:
        return min(max(x, k_min), k_max)
    k, tried = clamp(k), []
    for _ in range(tries):
        tokens = tokens_of(k)
        tried.append((k, tokens))
        if (1 - tol) * budget_tokens <= tokens <= budget_tokens:
            break
        nxt = clamp(math.floor(k * budget_tokens / max(tokens, 1)))
        if nxt == k or any(nxt == t[0] for t in tried):
            break
        k = nxt
    fits = [kt for kt in tried if kt[1] <= budget_tokens]
    return (max(fits)[0] if fits else min(tried)[0]), tried
