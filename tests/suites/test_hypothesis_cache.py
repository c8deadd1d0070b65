"""Hypothesis' derived caches (Unicode tables, constants) live in the user's cache directory, where the
next run finds them, never in the current directory; without a usable cache directory, in a temporary
one removed at the end."""

from __future__ import annotations

from pathlib import Path

from conformance.hypothesis_cache import hypothesis_cache_dir
from tests.trust_helpers import run_command


def test_the_cache_directory_follows_xdg_cache_home(tmp_path: Path) -> None:
    home = hypothesis_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert home == tmp_path / "cache" / "bw-conformance" / "hypothesis"
    assert home.is_dir()


def test_without_a_usable_cache_directory_there_is_none(tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a directory", encoding="utf-8")
    assert hypothesis_cache_dir({"XDG_CACHE_HOME": str(in_the_way)}) is None


def test_a_run_leaves_its_tables_in_the_cache_and_the_next_run_reuses_them(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()
    selection = ("-m", "bxml", "-k", "test_valid_bxml_is_accepted_on_a_live_call", "--max-examples", "2")
    first = run_command(*selection, "--seed", "3", cwd=work, env={"XDG_CACHE_HOME": str(cache)})
    assert first.returncode == 0, first.stdout + first.stderr
    # The table of Unicode categories: built from every code point once, then only read.  (The codec
    # table is written again after each read, so its time says nothing.)
    [table] = (cache / "bw-conformance" / "hypothesis" / "unicode_data").rglob("charmap.json.gz")
    written = table.stat().st_mtime_ns
    second = run_command(*selection, "--seed", "3", cwd=work, env={"XDG_CACHE_HOME": str(cache)})
    assert second.returncode == 0, second.stdout + second.stderr
    assert table.stat().st_mtime_ns == written  # read, not built again
    assert not (work / ".hypothesis").exists()


def test_an_unusable_cache_directory_still_runs_and_leaves_nothing_behind(tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a directory", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    selection = ("-m", "bxml", "-k", "test_valid_bxml_is_accepted_on_a_live_call", "--max-examples", "2")
    result = run_command(*selection, "--seed", "3", cwd=work, env={"XDG_CACHE_HOME": str(in_the_way)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (work / ".hypothesis").exists()
