"""Recognising Voice API operations: from a schemathesis case, and in the contract itself.

:func:`voice_operations` lists the operations the api suite tests, read straight from the contract
(no schemathesis, no network beyond fetching a URL once), so that pytest can make one test item per
operation at collection time.  The same rule, :func:`is_voice_operation`, leaves the OAuth2 token
endpoint (and any other operation marked as not belonging to the Voice API) out of the schemathesis
schema, so the items and the operations run always agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HTTP_METHODS",
    "NOT_VOICE_MARKERS",
    "NOT_VOICE_TAGS",
    "OperationRef",
    "id_kind_for_path",
    "is_create_call",
    "is_voice_operation",
    "operation_id",
    "voice_operations",
]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Operations of the contract that are not Voice API operations: the OAuth2 token endpoint lives on
# Bandwidth's identity service and answers RFC 6749 errors, not voiceApiError bodies.
NOT_VOICE_TAGS = frozenset({"OAuth"})
NOT_VOICE_MARKERS = ("x-bw-token-endpoint", "x-bw-not-voice")

_CREATE_CALL_PATH = re.compile(r"/accounts/\{[^}]+\}/calls/?$")
# Characters a pytest -k identifier may hold (``_pytest.mark.expression``): an id made only of these
# can be selected exactly with ``-k 'test_operation[<id>]'``.
_K_SAFE = re.compile(r"[^\w:+\-./\\]+")


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


def is_voice_operation(definition: Mapping[str, Any]) -> bool:
    """False for an operation the contract marks as not part of the Voice API (the token endpoint):
    tagged ``OAuth`` or carrying a truthy ``x-bw-token-endpoint`` / ``x-bw-not-voice``."""
    tags = definition.get("tags")
    if isinstance(tags, list) and NOT_VOICE_TAGS & {tag for tag in tags if isinstance(tag, str)}:
        return False
    return not any(definition.get(marker) for marker in NOT_VOICE_MARKERS)


@dataclass(frozen=True)
class OperationRef:
    """One operation of the contract, as a pytest parameter: where it is and how its item is named.

    ``test_id`` is the operationId, else ``METHOD:path``, with the characters a ``-k`` expression cannot
    hold removed, so that ``-k 'test_operation[<test_id>]'`` always selects exactly this operation.
    """

    method: str  # upper case
    path: str
    operation_id: str | None
    test_id: str

    @property
    def label(self) -> str:
        """``METHOD path``, schemathesis' name for the operation."""
        return f"{self.method} {self.path}"


def _base_id(method: str, path: str, operation_id: str | None) -> str:
    raw = operation_id or f"{method}:{path}"
    return _K_SAFE.sub("", raw.replace(" ", "_")) or method


def voice_operations(spec: Mapping[str, Any]) -> list[OperationRef]:
    """The operations of an OpenAPI document the api suite tests, in document order, with unique ids.

    Operations whose ids would collide (a repeated operationId) get ``-2``, ``-3``... suffixes.
    """
    paths = spec.get("paths")
    if not isinstance(paths, Mapping):
        return []
    refs: list[OperationRef] = []
    seen: set[str] = set()
    for path, item in paths.items():
        if not isinstance(path, str) or not isinstance(item, Mapping):
            continue
        for method, definition in item.items():
            if method not in HTTP_METHODS:
                continue
            if not isinstance(definition, Mapping) or not is_voice_operation(definition):
                continue
            value = definition.get("operationId")
            op_id = value if isinstance(value, str) and value else None
            base = _base_id(method.upper(), path, op_id)
            test_id, n = base, 1
            while test_id in seen:
                n += 1
                test_id = f"{base}-{n}"
            seen.add(test_id)
            refs.append(OperationRef(method.upper(), path, op_id, test_id))
    return refs
