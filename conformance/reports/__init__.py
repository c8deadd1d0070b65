"""The reports a run writes: ``html``, ``junit``, ``ndjson`` and ``har`` (``run --report``).

:func:`write_reports` writes the chosen formats into a directory, each file whole (temporary name,
then rename) and with every text passed through the run's redactor.  What they are made of is
recorded while the suites run (:mod:`conformance.reports.recording`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape

from conformance.redaction import MASK, Redactor
from conformance.reports.run import FORMATS, RunData, redacted, write_atomic

__all__ = ["FORMATS", "parse_formats", "write_reports"]


def parse_formats(text: str) -> list[str]:
    """``"html,junit"`` -> ``["html", "junit"]``; raises ValueError naming an unknown format."""
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FORMATS]
    if unknown or not chosen:
        given = ", ".join(unknown) or "(none)"
        raise ValueError(f"unknown report format {given}: choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(chosen))


def _format_redactor(redactor: Redactor) -> Redactor:
    """The run's redactor, also catching secrets as JSON, HTML and XML write them."""
    last = Redactor(extra=redactor.values)
    for secret in redactor.values():
        last.add(json.dumps(secret)[1:-1], escape(secret, {'"': "&quot;"}), escape(secret))
    return last


_SCHEME = re.compile("(?i)bearer|basic")


class _Snapshot(Redactor):
    """A redactor fixed to the secrets known now, one compiled pattern for all of them: the walk over
    a run's records calls it for every text, too often to rebuild the list each time."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        secrets = redactor.values()
        self._pattern = re.compile("|".join(re.escape(s) for s in secrets)) if secrets else None

    def __call__(self, text: str) -> str:
        if len(text) < 4:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if _SCHEME.search(text) is None:
            return text
        return super().__call__(text)  # no secrets of its own: Bearer/Basic credentials only


def write_reports(formats: Iterable[str], directory: Path, data: RunData, redactor: Redactor) -> list[Path]:
    """Write every chosen format except ``junit`` (finished from pytest's own XML by the runner);
    returns the files written."""
    from conformance.reports.html import html_text
    from conformance.reports.machine import har_text, ndjson_text

    last = _format_redactor(redactor)
    clean = redacted(data, _Snapshot(last))  # recorded bodies hold secrets JSON-escaped too
    writers = {"html": html_text, "ndjson": ndjson_text, "har": har_text}
    written: list[Path] = []
    for name in formats:
        writer = writers.get(name)
        if writer is None:
            continue
        path = directory / FORMATS[name]
        write_atomic(path, writer(clean), last)
        written.append(path)
    return written
