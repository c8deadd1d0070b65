"""Where hypothesis keeps its caches while this package generates cases: :func:`hypothesis_home`.

Hypothesis writes derived data next to its example database, under ``.hypothesis/`` in the current
directory unless told otherwise: the tables of which characters a codec encodes and of Unicode
categories (building them walks all 1.1 million code points, seconds of CPU) and the constants of
local modules.  The suites and the generating commands (``run``, ``fuzz-app``, ``fuzz-stream``,
``bxml generate``) keep them in the user's cache directory instead, where the next run finds them,
and never write into the current directory.  They use no example database, so a seed repeats a run
exactly whatever is cached.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["hypothesis_cache_dir", "hypothesis_home"]


def hypothesis_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$XDG_CACHE_HOME/bw-conformance/hypothesis`` (``~/.cache/...`` without the variable), created
    if needed; ``None`` when that cannot be a writable directory (no home, a read-only one, a file
    in the way)."""
    environ = os.environ if environ is None else environ
    try:
        base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        home = base / "bw-conformance" / "hypothesis"
        home.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return None
    return home if os.access(home, os.W_OK | os.X_OK) else None


@contextmanager
def hypothesis_home() -> Iterator[Path | None]:
    """For the duration, hypothesis' home is :func:`hypothesis_cache_dir`, or a temporary directory
    removed at the end when there is none; yields it.  ``HYPOTHESIS_STORAGE_DIRECTORY``, when set,
    is hypothesis' own setting: it is left alone (and ``None`` is yielded)."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield None
        return
    from hypothesis import configuration

    home = hypothesis_cache_dir()
    temporary = home is None
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="bw-conformance-hypothesis-"))
    configuration.set_hypothesis_home_dir(home)
    try:
        yield home
    finally:
        configuration.set_hypothesis_home_dir(None)  # back to hypothesis' own choice
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
