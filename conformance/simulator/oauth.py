"""OAuth2 client credentials: the token endpoint and the Bearer tokens it issues.

Bandwidth retires HTTP Basic API users on 2026-12-02; from then on a client posts its client id and
secret to ``POST /api/v1/oauth2/token`` and sends ``Authorization: Bearer <access_token>``.  The
simulator serves that endpoint on its own port at the real platform's path, so a client whose token
host is configurable points at the simulator unchanged.

Token request (RFC 6749 §4.4): ``Content-Type: application/x-www-form-urlencoded``, body
``grant_type=client_credentials``, the client authenticated by ``Authorization: Basic
base64(client_id:client_secret)`` or, when there is no such header, by ``client_id`` and
``client_secret`` form fields (RFC 6749 §2.3.1).  Answer: 200 ``{"access_token", "token_type":
"Bearer", "expires_in"}`` with ``Cache-Control: no-store`` and ``Pragma: no-cache``.  Errors are
RFC 6749 §5.2 JSON ``{"error", "error_description"}``, checked in this order, and nothing is issued:

======  =========================  =========================================================
status  error                      when
======  =========================  =========================================================
405     invalid_request            a method other than POST (``Allow: POST``)
400     unauthorized_client        the simulator runs with ``auth_mode="basic"``: no tokens
400     invalid_request            parameters in the URL's query string
429     temporarily_unavailable    more than :data:`TOKEN_RATE_LIMIT` requests in one second for
                                   one client id (or one address when no id is readable), with
                                   ``Retry-After``; failed requests count too
413     invalid_request            a body over :data:`MAX_TOKEN_REQUEST_BYTES`
400     invalid_request            not a form (JSON, no content type), not UTF-8, a parameter
                                   given twice, the secret both in the header and the body
401     invalid_client             no client authentication, a header that is not Basic or not
                                   base64 of ``id:secret``, an unknown client id, a wrong
                                   secret; with ``WWW-Authenticate: Basic realm=...``
400     invalid_request            no ``grant_type``
400     unsupported_grant_type     a ``grant_type`` other than ``client_credentials``
======  =========================  =========================================================

Tokens are JWTs signed with HS256 and a random key made when the simulator starts (so tokens do
not survive a restart), carrying ``iss``, ``sub`` (the client id), ``accounts``, ``iat``, ``exp``,
``jti`` and ``gen``, the credential's revocation generation: revoking a credential's tokens bumps
it, and a token whose ``gen`` is not the current one is refused.

Expiry is measured on the **wall clock** (``time.time()``), never on the simulator's virtual clock,
which leaps ahead minutes at a time: clients compute a token's expiry on wall time.

Verifying a token costs one signature check per distinct ``Authorization`` header: the decoded
claims are cached by header, and every request still checks expiry, revocation and the accounts
the credential covers now (a token acts only for accounts both it and its credential still cover).
"""

from __future__ import annotations

import binascii
import json
import math
import secrets
import time
import uuid
from base64 import b64decode
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from starlette.requests import Request
from starlette.responses import Response

from conformance.simulator.api_errors import (
    SCOPE_DESCRIPTION,
    SCOPE_OPERATION,
    SCOPE_RULE,
    ApiError,
)
from conformance.simulator.config import AuthMode
from conformance.simulator.models import Account, ApiCredential
from conformance.simulator.store import Store

__all__ = [
    "BASIC_RETIRED",
    "BEARER_NOT_ACCEPTED",
    "ISSUER",
    "LEGACY_BASIC_DESCRIPTION",
    "LEGACY_BASIC_RULE",
    "MAX_TOKEN_REQUEST_BYTES",
    "REALM",
    "TOKEN_BAD_SIGNATURE",
    "TOKEN_EXPIRED",
    "TOKEN_MALFORMED",
    "TOKEN_MISSING",
    "TOKEN_OPERATION",
    "TOKEN_PATH",
    "TOKEN_RATE_LIMIT",
    "TOKEN_REVOKED",
    "Grant",
    "OAuthError",
    "TokenAuthority",
    "basic_pair",
    "bearer_challenge",
]

TOKEN_PATH = "/api/v1/oauth2/token"  # noqa: S105 - the real platform's path, not a secret
TOKEN_OPERATION = "createOAuth2Token"  # noqa: S105 - its operationId in the contract
ISSUER = "bandwidth-voice-simulator"
REALM = "Bandwidth Voice API simulator"
MAX_TOKEN_REQUEST_BYTES = 8192
TOKEN_RATE_LIMIT = 50  # token requests per second per client id (or address)
_MAX_FIELDS = 32
_CACHE_SIZE = 1024

# Descriptions of the 401s a Voice API request can get (voiceApiError ``description``).
TOKEN_MISSING = "The access token is missing: send Authorization: Bearer <token> from POST " + TOKEN_PATH
TOKEN_MALFORMED = "The access token is malformed"  # noqa: S105 - a message
TOKEN_BAD_SIGNATURE = (
    "The access token signature is invalid: it was not issued by this simulator "  # noqa: S105 - a message
    "(tokens do not survive a restart)"
)
TOKEN_EXPIRED = "The access token expired"  # noqa: S105 - a message
TOKEN_REVOKED = "The access token was revoked"  # noqa: S105 - a message
BASIC_RETIRED = (
    "HTTP Basic authentication with API users was retired on 2026-12-02: use OAuth2 client "
    f"credentials (POST {TOKEN_PATH}) and send Authorization: Bearer <token>"
)
BEARER_NOT_ACCEPTED = (
    "Bearer tokens are not accepted: the simulator runs with --auth basic (HTTP Basic API users only)"
)
LEGACY_BASIC_RULE = "legacy-basic-auth"
LEGACY_BASIC_DESCRIPTION = (
    "Authenticated with HTTP Basic (an API user): Bandwidth retires API users on 2026-12-02; "
    "use OAuth2 client credentials"
)


def _quotable(text: str, limit: int = 300) -> str:
    """``text`` with only the characters RFC 6750 allows in a quoted ``error_description``."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text[:limit])


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value: ``Bearer realm="..."`` plus RFC 6750 ``error`` attributes."""
    value = f'Bearer realm="{REALM}"'
    if error is not None:
        value += f', error="{error}"'
        if description:
            value += f', error_description="{_quotable(description)}"'
    return value


def _invalid_token(description: str, rule: str) -> ApiError:
    return ApiError(
        401,
        description,
        rule=rule,
        error_type="authentication-error",
        headers={"WWW-Authenticate": bearer_challenge("invalid_token", description)},
    )


def _not_covered(account_id: str) -> ApiError:
    detail = f"The access token does not cover account {account_id}"
    return ApiError(
        403,
        "Access is denied",
        rule="authorization",
        error_type="authorization-error",
        headers={"WWW-Authenticate": bearer_challenge("insufficient_scope", detail)},
    )


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified access token says: who it was issued to, for which accounts, until when."""

    client_id: str
    accounts: frozenset[str]
    expires_at: float  # wall-clock seconds (``time.time()``)
    generation: int
    token_id: str


class OAuthError(Exception):
    """A refused token request: an RFC 6749 §5.2 error answer and the rule for the request log."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        rule: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.rule = rule
        self.headers = headers or {}

    def response(self) -> Response:
        return _oauth_json(
            {"error": self.error, "error_description": self.description}, self.status, self.headers
        )


def _oauth_json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    all_headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})}
    return Response(data, status_code=status, headers=all_headers, media_type="application/json")


def _invalid_request(description: str, rule: str, status: int = 400) -> OAuthError:
    return OAuthError(status, "invalid_request", description, rule=rule)


def _invalid_client(description: str) -> OAuthError:
    return OAuthError(
        401,
        "invalid_client",
        description,
        rule="oauth2-invalid-client",
        headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
    )


def _shown(client_id: str) -> str:
    return repr(client_id[:64] + ("..." if len(client_id) > 64 else ""))


def basic_pair(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from ``Basic base64(user:password)``, or ``None`` when it is not that.

    The one reader of Basic headers: API users on Voice operations and clients at the token endpoint.
    """
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class TokenAuthority:
    """Issues and checks one simulator's access tokens; also serves the token endpoint.

    ``clock`` is the wall clock expiry is measured on and ``monotonic`` the clock of the token
    endpoint's rate limit (``rate_limit`` requests a second); tests may replace these attributes.
    """

    def __init__(
        self,
        store: Store,
        *,
        mode: AuthMode = "both",
        lifetime: int = 3600,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.mode: AuthMode = mode
        self.lifetime = lifetime
        self.clock = clock
        self.monotonic = monotonic
        self.issued = 0  # tokens issued so far
        self.rate_limit = TOKEN_RATE_LIMIT  # token requests a second per client id (or address)
        self._key = key if key is not None else secrets.token_bytes(32)
        self._grants: dict[str, Grant] = {}  # Authorization header -> its verified claims
        self._windows: dict[str, deque[float]] = {}

    # ------------------------------------------------------------------------------ tokens
    def issue(self, credential: ApiCredential) -> str:
        """A new access token for ``credential``, good for :attr:`lifetime` seconds of wall time."""
        now = self.clock()
        claims = {
            "iss": ISSUER,
            "sub": credential.client_id,
            "accounts": list(credential.accounts),
            "iat": int(now),
            "exp": round(now + self.lifetime, 3),
            "jti": uuid.uuid4().hex,
            "gen": self.store.token_generation(credential.client_id),
        }
        self.issued += 1
        return jwt.encode(claims, self._key, algorithm="HS256")

    def account_for(self, header: str, account_id: str) -> Account:
        """The account a Bearer request may act for: 401 for a bad token, 403 for an uncovered account.

        The hot path of every Bearer request: one dictionary look-up of the header (the signature
        is checked once per header), then expiry, revocation and coverage, every time.
        """
        grant = self._grants.get(header)
        if grant is None:
            grant = self._remember(header)
        if self.clock() >= grant.expires_at:
            raise _invalid_token(TOKEN_EXPIRED, "token-expired")
        store = self.store
        credential = store.credentials.get(grant.client_id)
        if credential is None or store.token_generations.get(grant.client_id, 0) != grant.generation:
            raise _invalid_token(TOKEN_REVOKED, "token-revoked")
        if account_id in grant.accounts and account_id in credential.accounts:
            account = store.accounts.get(account_id)
            if account is not None:
                return account
        raise _not_covered(account_id)

    def _remember(self, header: str) -> Grant:
        grant = self._decode(header[7:].strip())
        if len(self._grants) >= _CACHE_SIZE:
            self._grants.clear()
        self._grants[header] = grant
        return grant

    def _decode(self, token: str) -> Grant:
        if not token or token.count(".") != 2:
            raise _invalid_token(TOKEN_MALFORMED, "token-malformed")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={
                    "verify_exp": False,  # checked on every request against self.clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "exp", "iat", "jti"],
                },
            )
            sub, accounts, exp = claims["sub"], claims.get("accounts"), claims["exp"]
            generation, token_id = claims.get("gen"), claims["jti"]
            if (
                not isinstance(sub, str)
                or not isinstance(accounts, list)
                or not all(isinstance(a, str) for a in accounts)
                or isinstance(exp, bool)
                or not isinstance(exp, int | float)
                or isinstance(generation, bool)
                or not isinstance(generation, int)
                or not isinstance(token_id, str)
            ):
                raise ValueError("claims of the wrong type")
            return Grant(sub, frozenset(accounts), float(exp), generation, token_id)
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
            raise _invalid_token(TOKEN_BAD_SIGNATURE, "token-signature") from None
        except Exception:  # whatever cannot be read (deep JSON, huge numbers, ...) is malformed
            raise _invalid_token(TOKEN_MALFORMED, "token-malformed") from None

    # ------------------------------------------------------------------------------ the endpoint
    async def endpoint(self, request: Request) -> Response:
        """``POST /api/v1/oauth2/token``: an access token, or an RFC 6749 error (see the module doc)."""
        scope = request.scope
        scope[SCOPE_OPERATION] = TOKEN_OPERATION
        try:
            token = await self._token_request(request)
        except OAuthError as error:
            scope[SCOPE_RULE] = error.rule
            scope[SCOPE_DESCRIPTION] = error.description
            return error.response()
        return _oauth_json({"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}, 200)

    async def _token_request(self, request: Request) -> str:
        if request.method != "POST":
            raise OAuthError(
                405, "invalid_request", "The token endpoint accepts POST only",
                rule="oauth2-method", headers={"Allow": "POST"},
            )  # fmt: skip
        if self.mode == "basic":
            raise OAuthError(
                400,
                "unauthorized_client",
                "OAuth2 is off: the simulator runs with --auth basic, so it issues no access tokens "
                "(use HTTP Basic, or restart it with --auth both or --auth oauth2)",
                rule="oauth2-disabled",
            )
        if request.scope.get("query_string"):
            raise _invalid_request(
                "Token request parameters go in the form body, never in the URL", "oauth2-query"
            )
        header = request.headers.get("authorization")
        pair = basic_pair(header)
        if pair is not None and not pair[0]:
            pair = None  # an empty client id is no client
        client = request.client
        self._admit(pair[0] if pair else f"address {client.host if client else '?'}")
        form = await self._form(request)
        credential = self._authenticate_client(header, pair, form)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _invalid_request(
                "grant_type is required: send grant_type=client_credentials", "oauth2-grant-type-missing"
            )
        if grant_type != "client_credentials":
            raise OAuthError(
                400,
                "unsupported_grant_type",
                f"grant_type {_shown(grant_type)} is not supported: only client_credentials is",
                rule="oauth2-unsupported-grant-type",
            )
        return self.issue(credential)

    def _admit(self, key: str) -> None:
        """429 when ``key`` made :attr:`rate_limit` requests in the last second."""
        now = self.monotonic()
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= 4096:
                self._windows.clear()
            window = self._windows[key] = deque()
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.rate_limit:
            wait = max(1, math.ceil(window[0] + 1.0 - now))
            raise OAuthError(
                429,
                "temporarily_unavailable",
                f"Too many token requests: at most {self.rate_limit} a second per client; "
                f"retry after {wait} s and reuse tokens until they expire",
                rule="oauth2-rate-limit",
                headers={"Retry-After": str(wait)},
            )
        window.append(now)

    @staticmethod
    async def _form(request: Request) -> dict[str, str]:
        length = request.headers.get("content-length")
        too_big = f"The token request body exceeds {MAX_TOKEN_REQUEST_BYTES} bytes"
        if length is not None:
            if not length.isdigit():
                raise _invalid_request("Invalid Content-Length header", "oauth2-content-length")
            if int(length) > MAX_TOKEN_REQUEST_BYTES:
                raise _invalid_request(too_big, "oauth2-body-too-large", 413)
        raw_type = request.headers.get("content-type")
        media, _, params = (raw_type or "").partition(";")
        charset_ok = all(
            key.strip().lower() != "charset" or value.strip().strip('"').lower() in ("utf-8", "utf8")
            for key, _, value in (p.partition("=") for p in params.split(";") if p.strip())
        )
        if media.strip().lower() != "application/x-www-form-urlencoded" or not charset_ok:
            shown = _quotable(raw_type or "none", 100)
            raise _invalid_request(
                f"The body must be a form (Content-Type: application/x-www-form-urlencoded), not {shown}",
                "oauth2-content-type",
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_TOKEN_REQUEST_BYTES:
                raise _invalid_request(too_big, "oauth2-body-too-large", 413)
            chunks.append(chunk)
        try:
            text = b"".join(chunks).decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict")
        except UnicodeDecodeError:
            raise _invalid_request("The form body is not valid UTF-8", "oauth2-body-encoding") from None
        except ValueError:
            raise _invalid_request(
                f"The form body has more than {_MAX_FIELDS} parameters", "oauth2-too-many-parameters"
            ) from None
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in form:  # RFC 6749 §3.2: parameters MUST NOT be included more than once
                raise _invalid_request(
                    f"Parameter {_shown(name)} is given more than once", "oauth2-duplicate-parameter"
                )
            form[name] = value
        return form

    def _authenticate_client(
        self, header: str | None, pair: tuple[str, str] | None, form: dict[str, str]
    ) -> ApiCredential:
        if header is not None:
            if "client_secret" in form:
                raise _invalid_request(
                    "The client authenticated twice: send the secret in the Authorization header "
                    "or in the body, not both",
                    "oauth2-two-client-authentications",
                )
            if pair is None:
                raise _invalid_client(
                    "The Authorization header must be Basic base64(client_id:client_secret)"
                )
            client_id, secret = pair
            if form.get("client_id", client_id) != client_id:
                raise _invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                    "oauth2-client-id-mismatch",
                )
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if not client_id or "client_secret" not in form:
                raise _invalid_client(
                    "No client authentication: send Authorization: Basic base64(client_id:client_secret)"
                )
        credential = self.store.credential(client_id)
        if credential is None and header is not None and unquote_plus(client_id) != client_id:
            # RFC 6749 §2.3.1 form-encodes the id and secret before Basic; most clients do not.
            client_id, secret = unquote_plus(client_id), unquote_plus(secret)
            credential = self.store.credential(client_id)
        if credential is None:
            raise _invalid_client(f"Unknown client id {_shown(client_id)}")
        expected = credential.client_secret.encode()
        if not secrets.compare_digest(expected, secret.encode()) and not (
            header is not None and secrets.compare_digest(expected, unquote_plus(secret).encode())
        ):
            raise _invalid_client(f"Wrong client secret for client id {_shown(client_id)}")
        return credential
