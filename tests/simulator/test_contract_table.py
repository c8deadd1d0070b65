"""The simulator serves exactly the operations of the contract, at the contract's paths."""

from __future__ import annotations

from typing import Any

from conformance.resources import load_spec
from conformance.simulator.app import OPERATIONS

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def test_operation_table_matches_the_contract() -> None:
    spec: dict[str, Any] = load_spec()
    declared = {
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    }
    served = {(op.method, op.path, op.operation_id) for op in OPERATIONS}
    assert served == declared
    assert len(served) == 28
