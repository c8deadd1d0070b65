"""BXML documents as the engine runs them: validated in their context, then a plain verb tree.

:func:`load` is the one door through which BXML enters the engine.  It checks the text with
``conformance.bxml`` in the context the platform uses (``call``, ``conference`` or
``transferAnswer``) and turns the safe lxml parse into :class:`Verb` records, remembering the URL
that served the document so relative URLs in it can be resolved.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from conformance import bxml
from conformance.errors import ConformanceError

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


@functools.lru_cache(maxsize=2048)
def _verbs(raw: str, context: str) -> tuple[Verb, ...] | str:
    """The verbs of a document, or the first validation problem (apps repeat their documents)."""
    first = bxml.first_blocking_error(raw, context)
    if first is not None:
        return first.message
    root = bxml.parse(raw)
    root = root.getroot() if hasattr(root, "getroot") else root
    return tuple(_convert(child) for child in root if isinstance(child.tag, str))


def load(text: str | bytes, context: str, base_url: str | None = None) -> Document:
    """Validate ``text`` in ``context`` and return its verbs; :class:`InvalidBxml` otherwise.

    An empty body (or only whitespace) is an empty document, which ends in an implicit hangup.
    """
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if raw.strip() == "":
        return Document((), base_url, context)
    verbs = _verbs(raw, context)
    if isinstance(verbs, str):
        raise InvalidBxml(f"invalid BXML ({context} context): {verbs}")
    return Document(verbs, base_url, context)


__all__ = ["Document", "InvalidBxml", "Verb", "load"]
