"""BXML documents as the engine runs them: validated in their context, then a plain verb tree.

:func:`load` is the one door through which BXML enters the engine.  It checks the text with
``conformance.bxml`` in the context the platform uses (``call``, ``conference`` or
``transferAnswer``) and turns the safe lxml parse into :class:`Verb` records, remembering the URL
that served the document so relative URLs in it can be resolved.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from conformance import bxml
from conformance.errors import ConformanceError
from conformance.simulator.engine.caches import ByteBoundedCache

_SPACE = re.compile(r"\s+")


class InvalidBxml(ConformanceError, ValueError):
    """A document the platform would refuse; the call ends with cause ``invalid-bxml``."""

    reason = "invalid-bxml"


@dataclass(frozen=True)
class Verb:
    """One BXML element: name, attributes, whitespace-trimmed text and child verbs."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.attrs.get(name)
        return default if value is None else value.strip().lower() == "true"

    def number(self, name: str, default: float) -> float:
        value = self.attrs.get(name)
        if value is None or value.strip() == "":
            return default
        try:
            return float(value)
        except ValueError:
            return default


@dataclass(frozen=True)
class Document:
    """The verbs of a document and the URL that served it (``None`` for PUT BXML)."""

    verbs: tuple[Verb, ...]
    base_url: str | None = None
    context: str = "call"


def _local(tag: Any) -> str:
    name = str(tag)
    return name.rsplit("}", 1)[-1]


def _convert(element: Any) -> Verb:
    children = tuple(_convert(child) for child in element if isinstance(child.tag, str))
    text = _SPACE.sub(" ", "".join(element.itertext())).strip()
    attrs = {str(k): str(v) for k, v in element.attrib.items()}
    return Verb(_local(element.tag), attrs, text, children)


# Parsed documents by (exact text, context): apps repeat their documents.  Only documents within the
# BXML size limit are kept (bigger ones are refused anyway), at most 4 MB of them in all.
CACHEABLE_BYTES = 64 * 1024
_CACHE: ByteBoundedCache[tuple[str | bytes, str], tuple[Verb, ...] | str] = ByteBoundedCache(4 * 1024 * 1024)


def _verbs(raw: str | bytes, context: str) -> tuple[Verb, ...] | str:
    """The verbs of a document, or the first validation problem."""
    key = (raw, context)
    found = _CACHE.get(key)
    if found is not None:
        return found
    first = bxml.first_blocking_error(raw, context)
    if first is not None:
        result: tuple[Verb, ...] | str = first.message
    else:
        root = bxml.parse(raw)
        root = root.getroot() if hasattr(root, "getroot") else root
        result = tuple(_convert(child) for child in root if isinstance(child.tag, str))
    if len(raw) <= CACHEABLE_BYTES:  # the verb tree costs about what its text does: count both
        _CACHE.put(key, result, 2 * sys.getsizeof(raw) + 256)
    return result


def load(text: str | bytes, context: str, base_url: str | None = None) -> Document:
    """Validate ``text`` in ``context`` and return its verbs; :class:`InvalidBxml` otherwise.

    Bytes go to the validator as received, so it alone decides their encoding (invalid UTF-8 is
    ``invalid-bxml``, not text with replacement characters).  An empty body (or only whitespace)
    is an empty document, which ends in an implicit hangup.
    """
    if text.strip() == (b"" if isinstance(text, bytes) else ""):
        return Document((), base_url, context)
    verbs = _verbs(text, context)
    if isinstance(verbs, str):
        raise InvalidBxml(f"invalid BXML ({context} context): {verbs}")
    return Document(verbs, base_url, context)


__all__ = ["Document", "InvalidBxml", "Verb", "load"]
