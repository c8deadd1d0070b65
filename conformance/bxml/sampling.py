"""Draw BXML documents from the strategies outside a test run, reproducibly from a seed."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

__all__ = ["sample"]

T = TypeVar("T")


def sample(strategy: st.SearchStrategy[T], count: int, *, seed_value: int = 0) -> list[T]:
    """``count`` values drawn from ``strategy``; the same seed gives the same values.

    Hypothesis explores from small to large, so the first values of a run are the simplest.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    drawn: list[T] = []
    if count == 0:
        return drawn

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        if len(drawn) < count:
            drawn.append(value)

    collect()
    return drawn
