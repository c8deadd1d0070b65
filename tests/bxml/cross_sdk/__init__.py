"""BXML written from the official SDKs' documented output, as data: one small XML file a document.

Each folder is one source: ``java``, ``node``, ``ruby``, ``csharp`` and ``php`` hold documents
written for this project in the shape of the expected strings of that SDK's unit tests (same
verbs, attributes, attribute order, number and boolean formats, layout; our own values).  They are
documents the platform must accept.  ``refused`` holds SDK output that the documentation forbids
(listed in ``xsd/README.md``, "Known SDK defects"); each must be refused for the rule it names.

Every file starts (after the XML declaration, if any) with a comment of ``key: value`` lines:
``source:`` (repository and path the shape comes from), optionally ``shape:`` (what the document
exercises), and for refused documents ``refused:`` (the rule) and ``why:``.  Other lines continue
the field above them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FOLDER", "SOURCES", "CrossSdkDocument", "load"]

FOLDER = Path(__file__).parent
#: The folders of documents that must be accepted, one per SDK.
SOURCES = ("java", "node", "ruby", "csharp", "php")
_HEADER = re.compile(r"<!--(.*?)-->", re.DOTALL)
_KEY = re.compile(r"^(source|shape|refused|why): (.*)$")


@dataclass(frozen=True)
class CrossSdkDocument:
    name: str  # folder/file
    source: str
    text: str
    refused_for: str | None  # the rule, for documents in refused/

    @property
    def must_accept(self) -> bool:
        return self.refused_for is None


def _header(path: Path, text: str) -> dict[str, str]:
    found = _HEADER.search(text)
    if found is None:
        raise ValueError(f"{path}: no header comment")
    fields: dict[str, str] = {}
    key = ""
    for line in found.group(1).strip().splitlines():
        match = _KEY.match(line.strip())
        if match:
            key = match.group(1)
            fields[key] = match.group(2).strip()
        elif key:
            fields[key] = f"{fields[key]} {line.strip()}"
    if "source" not in fields:
        raise ValueError(f"{path}: the header has no source")
    return fields


def load(folders: tuple[str, ...] = (*SOURCES, "refused")) -> list[CrossSdkDocument]:
    """The documents of ``folders``, sorted by name."""
    documents: list[CrossSdkDocument] = []
    for folder in folders:
        for path in sorted((FOLDER / folder).glob("*.xml")):
            text = path.read_text(encoding="utf-8")
            fields = _header(path, text)
            refused = fields.get("refused")
            if (folder == "refused") != (refused is not None):
                raise ValueError(f"{path}: refused: belongs in, and only in, refused/")
            documents.append(
                CrossSdkDocument(
                    name=f"{folder}/{path.stem}",
                    source=fields["source"],
                    text=text,
                    refused_for=refused.split()[0] if refused else None,
                )
            )
    return documents
