"""``bw-conformance fuzz-app``: the table, the findings, and the exit codes 0, 1 and 2."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from click.testing import CliRunner

from conformance.cli import main

from . import apps


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["fuzz-app", *args], catch_exceptions=False)


def test_a_clean_app_exits_0_with_a_table(live: Any) -> None:
    with live(apps.create_app()) as url:
        result = _invoke(url, "--events", "answer,disconnect", "--max-examples", "5", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert "answer" in result.stdout
    assert "call BXML" in result.stdout
    assert "no problems found" in result.stdout


def test_problems_exit_1_with_the_finding_and_a_curl_command(live: Any) -> None:
    with live(apps.create_app(apps.UnescapedTag())) as url:
        result = _invoke(url, "--events", "answer", "--max-examples", "50", "--seed", "2")
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "invalid_bxml" in out
    assert "bxml: [" in out  # the validator rule, e.g. [malformed-xml] or [forbidden-child]
    assert f"curl -sS -i -X POST {url}" in out
    assert "--seed 2" in out


async def _streams_forever(scope: Any, receive: Any, send: Any) -> None:
    """A webhook handler whose chunked reply never ends."""
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/xml")]}
    )
    while True:
        await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await asyncio.sleep(0.01)


def test_an_app_that_streams_forever_is_a_timeout_finding_and_the_run_ends(live: Any) -> None:
    with live(_streams_forever) as url:
        result = _invoke(url, "--events", "gather", "--max-examples", "5", "--callback-timeout", "0.5")
    assert result.exit_code == 1, result.output
    assert "timeout" in result.stdout
    assert "no reply within 0.5 s" in result.stdout


def test_get_routes_and_basic_auth(live: Any) -> None:
    app = apps.create_app(credentials=("u", "p"))
    with live(app) as url:
        result = _invoke(
            url,
            "--route",
            f"gather={url}gather",
            "--events",
            "gather,dtmf",
            "--method",
            "GET",
            "--username",
            "u",
            "--password",
            "p",
            "--max-examples",
            "4",
        )
    assert result.exit_code == 0, result.output


def test_basic_auth_from_the_environment_is_used_and_never_printed(live: Any) -> None:
    """BW_FUZZ_USERNAME / BW_FUZZ_PASSWORD keep the password off the command line (and the output)."""
    secret = "fuzz-secret-8c1d"
    with live(apps.create_app(credentials=("u", secret))) as url:
        args = ["fuzz-app", url, "--events", "answer", "--max-examples", "3", "--seed", "3"]
        env = {"BW_FUZZ_USERNAME": "u", "BW_FUZZ_PASSWORD": secret}
        result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
        refused = CliRunner().invoke(
            main, args, env={**env, "BW_FUZZ_PASSWORD": "wrong"}, catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert refused.exit_code == 1, refused.output  # the app refuses a wrong password: a finding


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:{port}/"], "cannot connect"),
        (["http://127.0.0.1:{port}/", "--events", "nope"], "unknown webhook event"),
        (["http://127.0.0.1:{port}/", "--route", "answer"], "EVENT=URL"),
        (["http://127.0.0.1:{port}/", "--username", "u"], "together"),
        (["http://127.0.0.1:{port}/", "--method", "PUT"], "PUT"),
        (["http://127.0.0.1:{port}/", "--max-examples", "0"], "0"),
        (["not-a-url"], "not an http"),
    ],
)
def test_usage_errors_and_an_unreachable_app_exit_2(args: list[str], message: str) -> None:
    port = _free_port()
    result = _invoke(*(a.format(port=port) for a in args))
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_hypothesis_caches_go_to_the_cache_directory_not_the_working_directory(
    live: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, work = tmp_path / "cache", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    monkeypatch.chdir(work)
    with live(apps.create_app()) as url:
        result = _invoke(url, "--events", "answer", "--max-examples", "5", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert not (work / ".hypothesis").exists()
    assert (cache / "bw-conformance" / "hypothesis").is_dir()
