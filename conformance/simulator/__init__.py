"""The reference Voice API simulator.

``Simulator`` runs it in-process (``with Simulator() as sim: sim.base_url``); ``create_app`` gives
the ASGI app; ``SimulatorConfig`` and ``load_accounts`` describe what it serves: accounts, their
OAuth2 client credentials, the auth mode (``both``, ``oauth2`` or ``basic``) and the access-token
lifetime (see :mod:`conformance.simulator.oauth`).  The names are imported lazily so that
``conformance.simulator.models`` stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.simulator.app import create_app
    from conformance.simulator.config import SimulatorConfig, load_accounts
    from conformance.simulator.server import Simulator

__all__ = ["Simulator", "SimulatorConfig", "create_app", "load_accounts"]

_WHERE = {
    "Simulator": "conformance.simulator.server",
    "SimulatorConfig": "conformance.simulator.config",
    "create_app": "conformance.simulator.app",
    "load_accounts": "conformance.simulator.config",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance.simulator' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
