"""The simulator serves exactly the operations of the contract, at the contract's paths."""

from __future__ import annotations

from typing import Any

from conformance.resources import load_spec
from conformance.simulator.app import OPERATIONS
from conformance.simulator.oauth import TOKEN_OPERATION, TOKEN_PATH

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_TOKEN_MARKER = "x-bw-token-endpoint"


def test_operation_table_matches_the_contract() -> None:
    spec: dict[str, Any] = load_spec()
    declared = {
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in _METHODS and not operation.get(_TOKEN_MARKER)
    }
    served = {(op.method, op.path, op.operation_id) for op in OPERATIONS}
    assert served == declared
    assert len(served) == 28


def test_the_token_endpoint_is_where_the_contract_puts_it() -> None:
    spec: dict[str, Any] = load_spec()
    token_ops = [
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in _METHODS and operation.get(_TOKEN_MARKER)
    ]
    assert token_ops in ([], [("POST", TOKEN_PATH, TOKEN_OPERATION)])
    token_url: str = (
        spec["components"]["securitySchemes"]
        .get("OAuth2", {})
        .get("flows", {})
        .get("clientCredentials", {})
        .get("tokenUrl", TOKEN_PATH)
    )
    assert token_url.endswith(TOKEN_PATH)
