"""``bw-conformance replay REPORT --id ID``: send recorded REST requests again and compare.

``REPORT`` is a run's ``exchanges.har`` or ``events.ndjson`` (or the report directory, or the
``report.html`` beside them).  ``ID`` is an exchange id (``main.r12``, shown in the HTML report and
the HAR's ``_id``) for one request, or a test (its node id or its name, ``test_redirect_verb``) for
every REST request it made, in order.  Requests go to ``--target`` (default: the run's target) with
the path, query, body and content headers recorded, authenticated afresh like ``run`` (credentials
from the environment: ``BW_CLIENT_ID``/``BW_CLIENT_SECRET`` or ``BW_USERNAME``/``BW_PASSWORD``);
token requests are not replayed.  Each answer is printed beside the recorded one.

Exit codes: 0 every status is the recorded one, 1 a status differs, 2 a bad file or id, or a target
that cannot be reached or refuses the credentials.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
import httpx

from conformance.errors import ConformanceError
from conformance.settings import load_settings
from conformance.tls import client_context

__all__ = ["command", "load_exchanges", "select"]

_DROPPED_HEADERS = frozenset(
    {"authorization", "host", "content-length", "connection", "cookie", "user-agent"}
)
_WIDTH = 58


class ReplayError(ConformanceError):
    """The report cannot be read, or the id names nothing in it."""

    reason = "replay"


def _locate(path: Path) -> Path:
    if path.is_dir() or path.suffix == ".html":
        folder = path if path.is_dir() else path.parent
        for name in ("exchanges.har", "events.ndjson"):
            if (folder / name).is_file():
                return folder / name
        raise ReplayError(f"no exchanges.har or events.ndjson in {folder}")
    return path


def load_exchanges(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """The REST exchanges of a HAR or ndjson report (as ``{id, test, method, url, headers, body,
    status, response}``) and the run's target."""
    path = _locate(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"cannot read {path}: {exc}") from exc
    try:
        if text.lstrip().startswith("{") and '"log"' in text[:200]:
            return _from_har(json.loads(text))
        return _from_ndjson([json.loads(line) for line in text.splitlines() if line.strip()])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReplayError(f"{path} is not a bw-conformance HAR or ndjson report: {exc}") from exc


def _target_of(properties: Any) -> str | None:
    value = properties.get("bw.target") if isinstance(properties, dict) else None
    return str(value).split(" ", 1)[0] if value else None


def _from_har(har: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    log = har["log"]
    exchanges = []
    for entry in log["entries"]:
        if entry.get("_type", "rest") != "rest":
            continue
        request, response = entry["request"], entry["response"]
        exchanges.append(
            {
                "id": str(entry.get("_id", "")),
                "test": str(entry.get("_test") or ""),
                "method": str(request["method"]),
                "url": str(request["url"]),
                "headers": [(h["name"], h["value"]) for h in request.get("headers", [])],
                "body": (request.get("postData") or {}).get("text", ""),
                "base64": (request.get("postData") or {}).get("_encoding") == "base64",
                "status": response.get("status") or None,
                "response": (response.get("content") or {}).get("text", ""),
            }
        )
    return exchanges, _target_of(log.get("_run"))


def _from_ndjson(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    target = None
    requests: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event.get("event")
        if kind == "run_start":
            target = _target_of(event.get("properties"))
        elif kind == "request":
            requests[str(event["id"])] = {
                "id": str(event["id"]),
                "test": str(event.get("test") or ""),
                "method": str(event["method"]),
                "url": str(event["url"]),
                "headers": [tuple(pair) for pair in event.get("headers", [])],
                "body": event.get("body", ""),
                "base64": event.get("encoding") == "base64",
                "status": None,
                "response": "",
            }
        elif kind == "response" and str(event.get("id")) in requests:
            requests[str(event["id"])] |= {"status": event.get("status"), "response": event.get("body", "")}
    return list(requests.values()), target


def _is_token(exchange: dict[str, Any]) -> bool:
    return urlsplit(str(exchange["url"])).path.endswith("/oauth2/token")


def select(exchanges: Iterable[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """One exchange by id, or every (non-token) request of the test ``wanted`` names."""
    exchanges = list(exchanges)
    by_id = [e for e in exchanges if e["id"] == wanted]
    if by_id:
        return by_id
    tests = {e["test"] for e in exchanges if e["test"]}
    matching = [t for t in tests if t == wanted or t.split("::", 1)[-1] == wanted]
    if not matching:
        matching = [t for t in tests if wanted in t]
    if len(matching) > 1:
        names = ", ".join(sorted(matching)[:5])
        raise ReplayError(f"{wanted!r} names {len(matching)} tests ({names}): give a full test id")
    if not matching:
        raise ReplayError(f"no exchange or test {wanted!r} in the report")
    return [e for e in exchanges if e["test"] == matching[0] and not _is_token(e)]


def _rebase(url: str, base: str) -> str:
    recorded, target = urlsplit(url), urlsplit(base)
    path = target.path.rstrip("/") + recorded.path
    return urlunsplit((target.scheme, target.netloc, path, recorded.query, ""))


def _excerpt(text: str) -> list[str]:
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=1, sort_keys=True)
    lines = [line[i : i + _WIDTH] for line in text.splitlines() for i in range(0, max(len(line), 1), _WIDTH)]
    return lines[:30] + (["…"] if len(lines) > 30 else [])


def _beside(recorded: dict[str, Any], response: httpx.Response) -> str:
    left = [f"recorded: {recorded['status']}", *_excerpt(str(recorded["response"] or ""))]
    right = [f"now: {response.status_code}", *_excerpt(response.text)]
    rows = max(len(left), len(right))
    left += [""] * (rows - len(left))
    right += [""] * (rows - len(right))
    return "\n".join(f"  {a:<{_WIDTH}} | {b}".rstrip() for a, b in zip(left, right, strict=True))


def replay(report: Path, wanted: str, target_url: str | None, auth: str | None) -> int:
    from conformance.redaction import Redactor
    from conformance.target import open_target

    exchanges, recorded_target = load_exchanges(report)
    chosen = select(exchanges, wanted)
    if not chosen:
        raise ReplayError(f"{wanted!r} made no REST request to replay")
    base = target_url or recorded_target
    if not base:
        raise ReplayError("the report does not name its target: give --target")
    settings = load_settings({"target": base, "auth": auth})
    differs = False
    with open_target(settings) as target:
        redactor = Redactor(target.settings.secrets(), extra=lambda: target.authenticator.secrets)
        with httpx.Client(timeout=target.settings.request_timeout, verify=client_context()) as client:
            for exchange in chosen:
                url = _rebase(exchange["url"], target.base_url)
                headers = {k: v for k, v in exchange["headers"] if k.lower() not in _DROPPED_HEADERS}
                path = urlsplit(url).path
                control = path.startswith(("/_sim/", "/health"))
                if control:  # the control API's own token (when the simulator has one), not the run's
                    headers |= target.control_headers
                auth_flow = None if control else target.authenticator.httpx_auth
                body = str(exchange["body"] or "")
                try:
                    content = (
                        base64.b64decode(body, validate=True) if exchange.get("base64") else body.encode()
                    )
                except binascii.Error as exc:
                    raise ReplayError(f"{exchange['id']}: the recorded body is not base64: {exc}") from exc
                request = client.build_request(exchange["method"], url, headers=headers, content=content)
                try:
                    response = client.send(request, auth=auth_flow)
                except httpx.HTTPError as exc:
                    raise ReplayError(f"{exchange['method']} {url}: {type(exc).__name__}: {exc}") from exc
                same = response.status_code == exchange["status"]
                differs = differs or not same
                verdict = "same status" if same else "STATUS DIFFERS"
                click.echo(redactor(f"{exchange['id']}  {exchange['method']} {url}  [{verdict}]"))
                click.echo(redactor(_beside(exchange, response)))
    return 1 if differs else 0


@click.command("replay")
@click.argument("report", type=click.Path(path_type=Path))
@click.option(
    "--id", "wanted", required=True, metavar="ID", help="An exchange id (main.r12) or a test id or name."
)
@click.option("--target", metavar="URL", help="Where to send the requests (default: the run's target).")
@click.option(
    "--auth", type=click.Choice(["oauth2", "basic"]), help="As for run (default: oauth2 with a client id)."
)
def command(report: Path, wanted: str, target: str | None, auth: str | None) -> None:
    """Send the REST requests a run recorded (one exchange, or every request of a test) again and print
    each answer beside the recorded one.

    Exit codes: 0 same statuses, 1 a status differs, 2 bad file or id, unreachable target or refused
    credentials.
    """
    try:
        code = replay(report, wanted, target, auth)
    except ConformanceError as exc:
        click.echo(f"bw-conformance replay: {exc}", err=True)
        code = 2
    click.get_current_context().exit(code)
