"""Draw BXML documents from the strategies outside a test run, reproducibly from a seed."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from conformance.bxml.errors import BxmlArgumentError

__all__ = ["sample"]

T = TypeVar("T")


def sample(strategy: st.SearchStrategy[T], count: int, *, seed_value: int = 0) -> list[T]:
    """``count`` values drawn from ``strategy``; the same seed gives the same values.

    Hypothesis starts every run with the simplest value (an empty root, for documents); that
    first value is skipped, so ``count`` values are ordinary draws.
    """
    if count < 0:
        raise BxmlArgumentError("count must be >= 0", reason="negative-count")
    drawn: list[T] = []
    if count == 0:
        return drawn
    calls = [0]

    @seed(seed_value)
    @settings(
        max_examples=count + 1,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        calls[0] += 1
        if calls[0] > 1 and len(drawn) < count:
            drawn.append(value)

    collect()
    return drawn
