"""Recognising Voice API operations from a schemathesis case, by operationId or by method and path."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["id_kind_for_path", "is_create_call", "operation_id"]

_CREATE_CALL_PATH = re.compile(r"/accounts/\{[^}]+\}/calls/?$")


def operation_id(operation: Any) -> str | None:
    """The operationId of a schemathesis ``APIOperation``, if the contract gives one."""
    raw = getattr(getattr(operation, "definition", None), "raw", None)
    if isinstance(raw, dict):
        value = raw.get("operationId")
        if isinstance(value, str):
            return value
    return None


def is_create_call(operation: Any) -> bool:
    """True for createCall (``POST /accounts/{accountId}/calls``)."""
    if operation_id(operation) == "createCall":
        return True
    method = str(getattr(operation, "method", "")).upper()
    return method == "POST" and bool(_CREATE_CALL_PATH.search(str(getattr(operation, "path", ""))))


def id_kind_for_path(path: str) -> str | None:
    """The kind of a bare ``id`` member in responses of the operation at ``path`` (conferences only)."""
    segments = [s for s in path.split("/") if s]
    if "conferences" in segments and not {"members", "recordings"} & set(segments):
        return "conference"
    return None
