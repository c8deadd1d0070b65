"""Finishing the JUnit XML of a run: what was tested as ``<properties>``, secrets removed, written whole.

pytest writes the report to a temporary name beside its final place; :func:`finish_junit` adds the
run's properties (target, seed, ...) to every ``<testsuite>``, passes every text through the run's
:class:`~conformance.redaction.Redactor`, and renames the result into place, so a reader (a CI system)
never sees half a file or a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from conformance.redaction import Redactor

__all__ = ["finish_junit"]


def _redact_tree(element: ET.Element, redactor: Redactor) -> None:
    for node in element.iter():
        if node.text:
            node.text = redactor(node.text)
        if node.tail:
            node.tail = redactor(node.tail)
        for key, value in list(node.attrib.items()):
            node.attrib[key] = redactor(value)


def finish_junit(
    partial: Path, final: Path | Sequence[Path], properties: Mapping[str, str], redactor: Redactor
) -> None:
    """Complete ``partial`` (pytest's report) into ``final`` (one path or several); ``partial`` is
    removed either way."""
    finals = [final] if isinstance(final, Path) else list(final)
    try:
        text = partial.read_text(encoding="utf-8")
        # Secrets as they appear escaped in XML text, before parsing turns them back.
        redactor.add(*(escape(secret) for secret in redactor.values()))
        root = ET.fromstring(text)  # noqa: S314 - our own file
        tree = ET.ElementTree(root)
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            existing = suite.find("properties")
            if existing is None:
                existing = ET.Element("properties")
                suite.insert(0, existing)
            for name, value in properties.items():
                ET.SubElement(existing, "property", {"name": name, "value": value})
        _redact_tree(root, redactor)
        for path in finals:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tree.write(staging, encoding="utf-8", xml_declaration=True)
            os.replace(staging, path)
    finally:
        partial.unlink(missing_ok=True)
