"""Readable evidence for a failed rule: the request, the response, the expectation, a reproduce command.

Reproduce commands never carry a secret.  ``Authorization`` headers of the request are always dropped;
the credentials are written back as a :class:`CurlAuth`: a shell variable for a secret password
(``-u "user:$BW_PASSWORD"``), or for OAuth2 a first line that fetches a token into ``$TOKEN`` with the
client secret read from ``$BW_CLIENT_SECRET`` and ``-H "Authorization: Bearer $TOKEN"``.  Only the
simulator's documented credentials and the suite's deliberately wrong ones are written as they are.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.api.accounts import Credentials, primary_credentials
from conformance.settings import ENVIRONMENT, Settings

__all__ = [
    "NO_AUTH",
    "PUBLIC_PASSWORDS",
    "CurlAuth",
    "basic_curl_auth",
    "bearer_curl_auth",
    "curl_auth_for",
    "curl_auth_of",
    "curl_command",
    "describe_exchange",
    "describe_response",
    "literal_curl_auth",
    "mark_made_up",
    "user_argument",
    "with_curl_auth",
    "without_credentials",
]

_SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization"}
# Secrets that are public (the embedded simulator's documented accounts and API credentials, the
# suite's deliberately wrong password) are shown; any other is replaced by a shell variable so that
# logs never carry it.
PUBLIC_PASSWORDS = frozenset(
    {"bw-pass", "bw-other-pass", "not-the-password", "bw-client-secret", "bw-other-client-secret"}
)


def _double_quoted(text: str) -> str:
    """``text`` safe inside a double-quoted shell word (no expansion)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")


def user_argument(user: str, env_name: str = "BW_PASSWORD") -> str:
    """The curl ``-u`` value for ``user`` (``name:password``), with a secret password masked."""
    name, _, password = user.partition(":")
    if password in PUBLIC_PASSWORDS or not password:
        return shlex.quote(user)
    return f'"{_double_quoted(name)}:${env_name}"'


@dataclass(frozen=True)
class CurlAuth:
    """How a reproduce command authenticates, already written so that it holds no secret.

    ``options``: curl options standing for the credentials (``-u ...`` or ``-H ...``); ``setup``: a
    shell line to run first (fetching an OAuth2 token); ``who``: a short description for messages.
    """

    options: tuple[str, ...] = ()
    setup: str | None = None
    who: str = ""


NO_AUTH = CurlAuth(who="without credentials")


def basic_curl_auth(username: str, password: str, *, env_name: str = "BW_PASSWORD") -> CurlAuth:
    """HTTP Basic as ``-u``; a password that is not public becomes ``$env_name``."""
    return CurlAuth(("-u", user_argument(f"{username}:{password}", env_name)), who=f"as user {username}")


def bearer_curl_auth(
    *,
    token_url: str | None,
    client_id: str,
    client_secret: str | None = None,
    secret_env: str = "BW_CLIENT_SECRET",  # noqa: S107 - a variable's name
    token_var: str = "TOKEN",  # noqa: S107 - a variable's name
) -> CurlAuth:
    """A Bearer token fetched first with the client credentials, then sent as
    ``-H "Authorization: Bearer $token_var"``.  The secret is written only when it is a public one;
    otherwise (or when it is not given) the command reads it from ``$secret_env``."""
    if client_secret and client_secret in PUBLIC_PASSWORDS:
        user = shlex.quote(f"{client_id}:{client_secret}")
    else:
        user = f'"{_double_quoted(client_id)}:${secret_env}"'
    url = shlex.quote(token_url) if token_url else '"$BW_TOKEN_URL"'
    setup = f"{token_var}=$(curl -s -u {user} -d grant_type=client_credentials {url} | jq -r .access_token)"
    return CurlAuth(
        ("-H", f'"Authorization: Bearer ${token_var}"'), setup=setup, who=f"as client id {client_id}"
    )


def literal_curl_auth(authorization: str, who: str) -> CurlAuth:
    """A made-up ``Authorization`` value the suite sends on purpose (a wrong or malformed credential),
    written as it is (and marked as made up, see :func:`mark_made_up`).  Never pass a real credential."""
    mark_made_up(authorization)
    return CurlAuth(("-H", shlex.quote(f"Authorization: {authorization}")), who=who)


def curl_auth_of(credentials: Credentials, *, other: bool = False) -> CurlAuth:
    """How a reproduce command authenticates with ``credentials`` (``other``: the second account's,
    whose secret is read from its own variable); secrets that are not public become variables."""
    if credentials.mode == "oauth2":
        field = "other_client_secret" if other else "client_secret"
        return bearer_curl_auth(
            token_url=credentials.token_url,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            secret_env=ENVIRONMENT[field],
            token_var="OTHER_TOKEN" if other else "TOKEN",
        )
    field = "other_password" if other else "password"
    return basic_curl_auth(credentials.username, credentials.password, env_name=ENVIRONMENT[field])


def curl_auth_for(settings: Settings) -> CurlAuth:
    """How a reproduce command authenticates as the account under test, in the run's auth mode."""
    return curl_auth_of(primary_credentials(settings))


# An Authorization header written out in a message: ``-H 'Authorization: Bearer abc'``,
# ``"Authorization": "Basic eHl6"``, ``Authorization: [Filtered]``.
_WRITTEN_AUTHORIZATION = re.compile(
    r"(?P<name>authorization['\"]?\s*[:=]\s*['\"]?)(?P<value>(?:bearer|basic)\s+[^\s'\",}]+)",
    re.IGNORECASE,
)
_FILTERED_CURL_AUTHORIZATION = re.compile(r"-H '(?i:authorization): \[Filtered\]'")


_MADE_UP_CREDENTIALS: set[str] = set()


def mark_made_up(authorization: str) -> str:
    """Declare ``authorization`` (a whole header value) a credential the suite made up to be refused
    (a malformed or expired token, a wrong password): messages may show it.  Returns it."""
    _MADE_UP_CREDENTIALS.add(authorization.strip())
    return authorization


def _shown(match: re.Match[str]) -> str:
    value = match.group("value")
    scheme, _, credential = value.partition(" ")
    credential = credential.strip()
    if credential.startswith("$") or f"{scheme} {credential}" in _MADE_UP_CREDENTIALS:
        return match.group(0)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credential, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        if decoded.partition(":")[2] in PUBLIC_PASSWORDS:
            return match.group(0)
    return f"{match.group('name')}[Filtered]"


def without_credentials(text: str) -> str:
    """``text`` with every written ``Authorization: Bearer ...`` / ``Basic ...`` value replaced by
    ``[Filtered]`` unless it is a shell variable, a public password or a credential the suite made up
    (a last line of defence for messages built by other code)."""
    return _WRITTEN_AUTHORIZATION.sub(_shown, text)


def with_curl_auth(message: str, auth: CurlAuth | None) -> str:
    """A schemathesis failure report whose reproduce command authenticates the way ``auth`` says.

    Schemathesis writes the credentials of a case as ``-H 'Authorization: [Filtered]'``; that becomes
    ``auth``'s options (``-u "user:$BW_PASSWORD"``, ``-H "Authorization: Bearer $TOKEN"``), with its
    token-fetching line first.  Any credential still written out is filtered.
    """
    message = without_credentials(message)
    if auth is None:
        return message
    lines: list[str] = []
    for line in message.splitlines(keepends=True):
        if "curl " in line and _FILTERED_CURL_AUTHORIZATION.search(line):
            indent = line[: len(line) - len(line.lstrip())]
            if auth.setup:
                lines.append(f"{indent}{auth.setup}\n")
            line = _FILTERED_CURL_AUTHORIZATION.sub(lambda _: " ".join(auth.options), line)
        lines.append(line)
    return "".join(lines)


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
    auth: CurlAuth | None = None,
) -> str:
    """A shell command that replays a request with curl (two lines when a token must be fetched first).

    The request's own ``Authorization`` (and ``Cookie``) headers are never written.  ``auth`` says how
    the command authenticates instead; ``user`` (``name:password``) is the older shorthand for Basic,
    with a password that is not public written as ``$env_name``.  Without either, the command sends
    no credentials.
    """
    if auth is None and user is not None:
        auth = CurlAuth(("-u", user_argument(user, env_name)))
    parts = ["curl", "-X", method.upper(), shlex.quote(url)]
    if auth is not None:
        parts += auth.options
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
    line = " ".join(parts)
    if auth is not None and auth.setup:
        return f"{auth.setup}\n{line}"
    return line


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
        for name in ("content-type", "location", "retry-after", "www-authenticate"):
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
    lines.extend(f"    {line}" for line in reproduce.splitlines())
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
    auth: CurlAuth | None = None,
) -> str:
    """:func:`describe_exchange` for an ``httpx.Response``; the curl line re-sends its request.

    ``auth`` (or the Basic shorthand ``user``, ``"name:password"``) replaces the request's
    Authorization header in the curl line.
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
            auth=auth,
        ),
    )
