"""Headless Chromium (Debian's ``chromium``) as a test tool: load a page, collect console errors,
take a screenshot.  Skipped when it is not installed, unless ``BW_REQUIRE_BROWSER`` is set (CI)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_CONSOLE = re.compile(r"CONSOLE[:(]\d+|Uncaught |ERR_FILE_NOT_FOUND|Refused to|net::ERR_")


def need_chromium() -> str:
    """The browser's path; skips the test (or fails it in CI) when there is none."""
    if CHROMIUM is None:
        if os.environ.get("BW_REQUIRE_BROWSER"):
            pytest.fail("BW_REQUIRE_BROWSER is set but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium; CI installs it)")
    return CHROMIUM


@dataclass
class Loaded:
    console_errors: list[str]
    screenshot: bytes


def load(url: str, *, width: int = 1100, height: int = 1600, budget_ms: int | None = None) -> Loaded:
    """Load ``url`` headless (no network services, no profile), return console errors and a PNG."""
    browser = need_chromium()
    with tempfile.TemporaryDirectory(prefix="bw-chromium-") as profile:
        shot = Path(profile) / "shot.png"
        argv = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}/data", "--enable-logging=stderr", "--v=0",
            f"--window-size={width},{height}", f"--screenshot={shot}",
        ]  # fmt: skip
        if budget_ms is not None:
            argv.append(f"--virtual-time-budget={budget_ms}")
        result = subprocess.run([*argv, url], capture_output=True, text=True, timeout=120, check=False)
        errors = [line for line in result.stderr.splitlines() if _CONSOLE.search(line)]
        assert shot.exists(), result.stderr[-2000:]
        return Loaded(errors, shot.read_bytes())


def distinct_colours(png: bytes) -> int:
    """How many distinct byte values the PNG's decompressed pixel rows hold (a blank page: few)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, data = 8, b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return len(set(zlib.decompress(data)))
