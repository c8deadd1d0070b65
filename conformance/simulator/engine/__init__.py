"""The call engine of the reference simulator (issue 4).

``engine_factory(store, clock)`` builds an :class:`Engine`, the
:class:`~conformance.simulator.models.CallEngine` that places calls, runs BXML verb by verb on the
simulator's :class:`~conformance.simulator.clock.VirtualClock` and sends every webhook.  Set
``engine.base_url`` to the simulator's public API base so ``callUrl`` and ``mediaUrl`` point at it.
"""

from __future__ import annotations

from conformance.simulator.engine.core import Engine, SentWebhook, engine_factory

__all__ = ["Engine", "SentWebhook", "engine_factory"]
