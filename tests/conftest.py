"""The project's tests keep the suites' caches to themselves: ``XDG_CACHE_HOME`` points at a directory
of this test session (shared by its in-process and subprocess runs, removed at the end), so a test
run neither reads nor fills the developer's own ``~/.cache/bw-conformance``."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SAVED = pytest.StashKey[tuple[str | None, str]]()


def pytest_configure(config: pytest.Config) -> None:
    directory = tempfile.mkdtemp(prefix="bw-conformance-test-cache-")
    config.stash[_SAVED] = (os.environ.get("XDG_CACHE_HOME"), directory)
    os.environ["XDG_CACHE_HOME"] = directory


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = config.stash.get(_SAVED, None)
    if saved is None:
        return
    previous, directory = saved
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous
    shutil.rmtree(directory, ignore_errors=True)
