"""Readable evidence for a failed rule: the request, the response, the expectation, a reproduce command."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PUBLIC_PASSWORDS", "curl_command", "describe_exchange", "describe_response", "user_argument"]

_SECRET_HEADERS = {"authorization"}
# Passwords that are public (the embedded simulator's documented accounts, the suite's deliberately
# wrong one) are shown; any other is replaced by a shell variable so that logs never carry it.
PUBLIC_PASSWORDS = frozenset({"bw-pass", "bw-other-pass", "not-the-password"})


def user_argument(user: str, env_name: str = "BW_PASSWORD") -> str:
    """The curl ``-u`` value for ``user`` (``name:password``), with a secret password masked."""
    name, _, password = user.partition(":")
    if password in PUBLIC_PASSWORDS or not password:
        return shlex.quote(user)
    safe_name = name.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
    return f'"{safe_name}:${env_name}"'


_MAX_BODY = 600


def _text(content: bytes | str | None) -> str:
    if content is None:
        return ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if len(text) > _MAX_BODY:
        return text[:_MAX_BODY] + f"... ({len(text)} characters)"
    return text


def curl_command(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    *,
    user: str | None = None,
    env_name: str = "BW_PASSWORD",
) -> str:
    """One shell line that replays a request with curl.

    ``user`` is written as ``-u USER:PASSWORD`` in place of any ``Authorization`` header, so the
    command can be re-run; omit it to replay the request without credentials.  A password that is not
    public is written as ``$env_name`` (see :func:`user_argument`).
    """
    parts = ["curl", "-X", method.upper(), shlex.quote(url)]
    if user is not None:
        parts += ["-u", user_argument(user, env_name)]
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if lowered in _SECRET_HEADERS or lowered in {"content-length", "user-agent", "accept-encoding"}:
            continue
        if lowered in {"connection", "accept"} and value in {"keep-alive", "*/*"}:
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        parts += ["--data-binary", shlex.quote(text)]
    return " ".join(parts)


def describe_exchange(
    *,
    rule: str,
    operation: str,
    expected: str,
    request_line: str,
    status: int | None,
    response_headers: Mapping[str, Sequence[str] | str] | None = None,
    response_body: bytes | str | None = None,
    problems: Sequence[str] = (),
    reproduce: str,
) -> str:
    """A failure message: rule and operation, request, response, expectation, and a reproduce command last."""
    lines = [f"[{rule}] {operation}", f"  request:  {request_line}"]
    if status is None:
        lines.append("  response: (none)")
    else:
        shown: dict[str, Any] = {}
        for name in ("content-type", "location", "retry-after"):
            for key, value in (response_headers or {}).items():
                if key.lower() == name:
                    shown[name] = value if isinstance(value, str) else ", ".join(value)
        header_text = "".join(f"; {k}: {v}" for k, v in shown.items())
        lines.append(f"  response: {status}{header_text}")
        body = _text(response_body)
        if body:
            lines.append(f"            {body}")
    lines.append(f"  expected: {expected}")
    lines.extend(f"  problem:  {problem}" for problem in problems)
    lines.append("Reproduce with:")
    lines.append(f"    {reproduce}")
    return "\n".join(lines)


def describe_response(
    *,
    rule: str,
    operation: str,
    response: Any,
    expected: str,
    problems: Sequence[str] = (),
    user: str | None = None,
    env_name: str = "BW_PASSWORD",
) -> str:
    """:func:`describe_exchange` for an ``httpx.Response``; the curl line re-sends its request.

    ``user`` (``"name:password"``) replaces the request's Authorization header in the curl line.
    """
    request = response.request
    body = request.content if request.content else None
    return describe_exchange(
        rule=rule,
        operation=operation,
        expected=expected,
        request_line=f"{request.method} {request.url}",
        status=response.status_code,
        response_headers=dict(response.headers),
        response_body=response.content,
        problems=problems,
        reproduce=curl_command(
            request.method,
            str(request.url),
            dict(request.headers),
            body,
            user=user,
            env_name=env_name,
        ),
    )
