"""Keeping secrets out of everything a run writes: terminal output, JUnit XML, reproduce commands.

Secrets are kept out at their source (settings hide them from ``repr``, reproduce commands name shell
variables, credentials travel to pytest in the environment, never on its command line); this module
is the last line: every line a run prints and every report it writes passes through
:class:`Redactor`, which replaces the run's own secrets and any ``Authorization`` credential
(``Bearer …``, ``Basic …``) with ``*****``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import TextIO

__all__ = ["MASK", "RedactingStream", "Redactor"]

MASK = "*****"

# A credential after its scheme, wherever it appears (headers, curl -H lines, reprs of dicts).
_CREDENTIAL = re.compile(r"(?i)\b(Bearer|Basic)(\s+|%20)(?!\$|\*{5})([A-Za-z0-9._~+/\-]{8,}=*)")
_MIN_SECRET = 4  # shorter values would mask ordinary words


class Redactor:
    """Replaces known secret values, and any ``Bearer``/``Basic`` credential, with ``*****``.

    ``extra`` is called on every use, so secrets learned later (an access token) are covered too.
    """

    def __init__(self, secrets: Iterable[str] = (), extra: Callable[[], Iterable[str]] | None = None) -> None:
        self._secrets = {s for s in secrets if len(s) >= _MIN_SECRET}
        self._extra = extra

    def add(self, *secrets: str) -> None:
        self._secrets.update(s for s in secrets if len(s) >= _MIN_SECRET)

    def values(self) -> list[str]:
        values = set(self._secrets)
        if self._extra is not None:
            values.update(s for s in self._extra() if len(s) >= _MIN_SECRET)
        return sorted(values, key=len, reverse=True)  # longest first: no partial leftovers

    def __call__(self, text: str) -> str:
        for secret in self.values():
            if secret in text:
                text = text.replace(secret, MASK)
        return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what it forwards (installed as ``sys.stdout`` during a run)."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        super().__init__()
        self._inner = inner
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._inner.write(self._redactor(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", None) or "utf-8"

    def writable(self) -> bool:
        return True
