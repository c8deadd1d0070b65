"""One failing flow run shared by the report tests (each run costs tens of seconds).

The target is the simulator behind a middleware that drops ``disconnectUrl`` from every
createCall: the call still ends, but the caller leg's ``disconnect`` webhook never comes, so the
``Redirect verb`` flow (answer -> redirect -> disconnect) fails with a missing event.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.suites.broken_targets import Breakage, Request, serve
from tests.trust_helpers import run_command

CLIENT_SECRET = "bw-client-secret"  # the simulator's default client; must appear in no report
FLOW_TEST = "test_redirect_verb"
ENV = {"BW_CLIENT_ID": "bw-client", "BW_CLIENT_SECRET": CLIENT_SECRET, "BW_ACCOUNT_ID": "9900000"}


def _drop_disconnect_url(request: Request, store: Any) -> Request:
    if request.method == "POST" and request.path.endswith("/calls"):
        body = json.loads(request.body)
        body.pop("disconnectUrl", None)
        return replace(request, body=json.dumps(body).encode())
    return request


NO_DISCONNECT = Breakage("disconnect-url-dropped", (), FLOW_TEST, (), on_request=_drop_disconnect_url)


@dataclass
class FailedRun:
    directory: Path
    returncode: int
    stdout: str
    stderr: str
    target_log: list[dict[str, Any]]  # the target's own request log (GET /_sim/requests)

    def text(self, name: str) -> str:
        return (self.directory / name).read_text(encoding="utf-8")

    def har(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text("exchanges.har"))
        return data

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text("events.ndjson").splitlines()]


@pytest.fixture(scope="session")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FailedRun]:
    work = tmp_path_factory.mktemp("failed-run")
    reports = work / "reports"
    with serve(NO_DISCONNECT) as base_url:
        result = run_command(
            "--target", base_url, "-k", FLOW_TEST, "--report", "html,junit,ndjson,har",
            "--report-dir", str(reports), cwd=work, env=ENV, timeout=300,
        )  # fmt: skip
        log = httpx.get(f"{base_url}/_sim/requests", params={"limit": 10000}, timeout=10).json()["requests"]
    yield FailedRun(reports, result.returncode, result.stdout, result.stderr, log)
    shutil.rmtree(work, ignore_errors=True)
