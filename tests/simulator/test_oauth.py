"""OAuth2 client credentials: the token endpoint, Bearer tokens on Voice operations, auth modes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from conformance.simulator import Simulator
from conformance.simulator.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN_LIFETIME,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
)
from conformance.simulator.lifecycle import LifecycleEngine
from conformance.simulator.oauth import (
    BASIC_RETIRED,
    BEARER_NOT_ACCEPTED,
    LEGACY_BASIC_RULE,
    MAX_TOKEN_REQUEST_BYTES,
    TOKEN_BAD_SIGNATURE,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_MISSING,
    TOKEN_OPERATION,
    TOKEN_PATH,
    TOKEN_RATE_LIMIT,
    TOKEN_REVOKED,
)

from .conftest import ACCOUNT, AUTH, OTHER, create_body, seed_call

CLIENT = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = b"grant_type=client_credentials"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def osim() -> Iterator[Simulator]:
    with Simulator(engine_factory=LifecycleEngine) as simulator:
        yield simulator


@pytest.fixture
def http(osim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=osim.base_url, timeout=10) as c:
        yield c


def get_token(client: httpx.Client, credentials: tuple[str, str] = CLIENT) -> str:
    r = client.post(TOKEN_PATH, content=GRANT, headers={**FORM, "Authorization": basic(*credentials)})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def check_voice_401(r: httpx.Response, description: str, error: str | None = "invalid_token") -> None:
    assert r.status_code == 401, r.text
    assert r.json() == {"type": "authentication-error", "description": description, "id": None}
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="')
    if error is None:
        assert "error=" not in challenge
    else:
        assert f'error="{error}"' in challenge
        assert f'error_description="{description}"' in challenge


# ------------------------------------------------------------------------------------- token endpoint
def test_token_is_issued_for_client_credentials(osim: Simulator, http: httpx.Client) -> None:
    before = time.time()
    r = http.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=CLIENT)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == DEFAULT_TOKEN_LIFETIME == 3600
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    assert r.headers["content-type"] == "application/json"
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == DEFAULT_CLIENT_ID
    assert claims["accounts"] == [ACCOUNT]
    assert set(claims) >= {"iat", "exp", "jti", "gen"}
    assert before - 1 <= claims["iat"] <= time.time()
    assert claims["exp"] - claims["iat"] == pytest.approx(3600, abs=1)
    assert osim.token_url == osim.base_url + TOKEN_PATH


def test_client_may_authenticate_with_form_fields(http: httpx.Client) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": OTHER_CLIENT_ID,
        "client_secret": OTHER_CLIENT_SECRET,
    }
    r = http.post(TOKEN_PATH, data=data)
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["accounts"]) == (OTHER_CLIENT_ID, [OTHER])


def test_tokens_are_distinct(http: httpx.Client) -> None:
    assert get_token(http) != get_token(http)


GOOD = basic(*CLIENT)
B64 = base64.b64encode
INVALID_CLIENT = (401, "invalid_client", "oauth2-invalid-client")


def form(authorization: str | None = GOOD, **more: str) -> dict[str, str]:
    headers = {**FORM, **more}
    if authorization is not None:
        headers["Authorization"] = authorization
    return headers


def invalid(rule: str, status: int = 400) -> tuple[int, str, str]:
    return status, "invalid_request", rule


# name -> (headers, body, (status, error, rule))
BAD_TOKEN_REQUESTS: dict[str, tuple[dict[str, str], bytes, tuple[int, str, str]]] = {
    "wrong secret": (form(basic(DEFAULT_CLIENT_ID, "nope")), GRANT, INVALID_CLIENT),
    "unknown client": (form(basic("who", "x")), GRANT, INVALID_CLIENT),
    "no authentication": (form(None), GRANT, INVALID_CLIENT),
    "form id without secret": (form(None), GRANT + b"&client_id=bw-client", INVALID_CLIENT),
    "garbled base64": (form("Basic !!!not-base64"), GRANT, INVALID_CLIENT),
    "no colon": (form("Basic " + B64(b"bw-client").decode()), GRANT, INVALID_CLIENT),
    "scheme only": (form("Basic"), GRANT, INVALID_CLIENT),
    "not UTF-8 in Basic": (form("Basic " + B64(b"\xff:\xfe").decode()), GRANT, INVALID_CLIENT),
    "Bearer scheme": (form("Bearer abc"), GRANT, INVALID_CLIENT),
    "wrong grant type": (
        form(),
        b"grant_type=password",
        (400, "unsupported_grant_type", "oauth2-unsupported-grant-type"),
    ),
    "no grant type": (form(), b"", invalid("oauth2-grant-type-missing")),
    "empty grant type": (form(), b"grant_type=", invalid("oauth2-grant-type-missing")),
    "JSON body": (
        {"Content-Type": "application/json", "Authorization": GOOD},
        b'{"grant_type": "client_credentials"}',
        invalid("oauth2-content-type"),
    ),
    "no content type": ({"Authorization": GOOD}, GRANT, invalid("oauth2-content-type")),
    "latin-1 form": (
        form(**{"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"}),
        GRANT,
        invalid("oauth2-content-type"),
    ),
    "repeated grant type": (form(), GRANT + b"&" + GRANT, invalid("oauth2-duplicate-parameter")),
    "secret twice": (
        form(),
        GRANT + b"&client_secret=bw-client-secret",
        invalid("oauth2-two-client-authentications"),
    ),
    "two client ids": (form(), GRANT + b"&client_id=bw-other-client", invalid("oauth2-client-id-mismatch")),
    "body not UTF-8": (form(), GRANT + b"&x=\xff", invalid("oauth2-body-encoding")),
    "percent-encoded non-UTF-8": (form(), GRANT + b"&x=%ff", invalid("oauth2-body-encoding")),
    "too many parameters": (
        form(),
        b"&".join(b"p%d=1" % i for i in range(40)),
        invalid("oauth2-too-many-parameters"),
    ),
    "oversize body": (
        form(),
        GRANT + b"&pad=" + b"x" * MAX_TOKEN_REQUEST_BYTES,
        invalid("oauth2-body-too-large", 413),
    ),
}


@pytest.mark.parametrize("case", list(BAD_TOKEN_REQUESTS))
def test_bad_token_requests_get_the_rfc_error_and_no_token(
    osim: Simulator, http: httpx.Client, case: str
) -> None:
    headers, body, (status, error, rule) = BAD_TOKEN_REQUESTS[case]
    issued = osim.runtime.tokens.issued
    r = http.post(TOKEN_PATH, content=body, headers=headers)
    assert r.status_code == status, r.text
    reply = r.json()
    assert set(reply) == {"error", "error_description"}
    assert reply["error"] == error
    assert reply["error_description"]
    assert r.headers["cache-control"] == "no-store"
    if error == "invalid_client":
        assert r.headers["www-authenticate"].startswith('Basic realm="')
    assert osim.runtime.tokens.issued == issued
    last = osim.store.requests[-1]
    assert (last.operation, last.status, last.rule) == (TOKEN_OPERATION, status, rule)
    assert last.description == reply["error_description"]


def test_oversize_body_without_content_length_is_refused(osim: Simulator, http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield GRANT
        for _ in range(10):
            yield b"&pad=" + b"x" * 1000

    r = http.post(TOKEN_PATH, content=chunks(), headers={**FORM, "Authorization": GOOD})
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"


def test_other_methods_get_405(http: httpx.Client) -> None:
    r = http.get(TOKEN_PATH, auth=CLIENT)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"] == "invalid_request"


def test_query_parameters_are_refused_and_never_logged(osim: Simulator, http: httpx.Client) -> None:
    r = http.post(
        TOKEN_PATH,
        params={"grant_type": "client_credentials", "client_secret": DEFAULT_CLIENT_SECRET},
        content=GRANT,
        headers=FORM,
        auth=CLIENT,
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert osim.store.requests[-1].path == TOKEN_PATH + "?[not logged]"


def test_garbage_never_gets_a_5xx(osim: Simulator, http: httpx.Client) -> None:
    bodies = [b"\x00\xff\xfe", b"=&=&&", b"%", b"%zz=%", b"grant_type=%E9", b"a" * 5000, "ü=ü".encode()]
    auths = [GOOD, "Basic Og==", "Basic " + base64.b64encode("ü:ü".encode()).decode(), "Digest x", "x" * 4000]
    types = [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset",
        "multipart/x",
        "",
    ]
    issued = osim.runtime.tokens.issued
    for body in bodies:
        for auth in auths:
            for media in types:
                r = http.post(
                    TOKEN_PATH, content=body, headers={"Authorization": auth, "Content-Type": media}
                )
                assert 400 <= r.status_code < 500, (body, auth, media, r.text)
                assert r.json()["error"]
    assert osim.runtime.tokens.issued == issued


def test_high_rate_gets_429_with_retry_after() -> None:
    with Simulator(engine_factory=LifecycleEngine) as sim, httpx.Client(base_url=sim.base_url) as c:
        tokens = sim.runtime.tokens
        now = [1000.0]
        tokens.monotonic = lambda: now[0]
        for _ in range(TOKEN_RATE_LIMIT):
            assert c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=CLIENT).status_code == 200
        r = c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=CLIENT)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"] == "temporarily_unavailable"
        assert "at most" in r.json()["error_description"]
        assert tokens.issued == TOKEN_RATE_LIMIT
        assert sim.store.requests[-1].rule == "oauth2-rate-limit"
        # wrong secrets count as well, and another client has its own budget
        assert (
            c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=(DEFAULT_CLIENT_ID, "x")).status_code == 429
        )
        assert c.post(
            TOKEN_PATH, content=GRANT, headers=FORM, auth=(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
        ).is_success
        now[0] += 1.0
        assert c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=CLIENT).status_code == 200


def test_token_endpoint_log_never_holds_a_secret_or_token(osim: Simulator, http: httpx.Client) -> None:
    token = get_token(http)
    http.post(
        TOKEN_PATH, content=GRANT, headers={**FORM, "Authorization": basic(DEFAULT_CLIENT_ID, "s3cr3t-typo")}
    )
    http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token))
    http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token + "x"))
    log = http.get("/_sim/requests", params={"limit": 100000}).text
    for secret in (DEFAULT_CLIENT_SECRET, "s3cr3t-typo", token, token[-20:], GOOD[6:]):
        assert secret not in log
    entries = json.loads(log)["requests"]
    issued = [e for e in entries if e["operation"] == TOKEN_OPERATION and e["status"] == 200]
    assert issued
    assert issued[-1]["rule"] is None


# ------------------------------------------------------------------------------------- Bearer tokens
@pytest.mark.parametrize("prefix", ["", "/api/v2"])
def test_bearer_token_works_on_voice_operations(osim: Simulator, http: httpx.Client, prefix: str) -> None:
    auth = bearer(get_token(http))
    call = seed_call(osim.store)
    r = http.get(f"{prefix}/accounts/{ACCOUNT}/calls/{call.call_id}", headers=auth)
    assert r.status_code == 200, r.text
    assert http.get(f"{prefix}/accounts/{ACCOUNT}/calls", headers=auth).status_code == 200
    r = http.post(f"{prefix}/accounts/{ACCOUNT}/calls", json=create_body(), headers=auth)
    assert r.status_code == 201, r.text
    assert http.get(f"{prefix}/accounts/{ACCOUNT}/conferences", headers=auth).status_code == 200
    last = osim.store.requests[-1]
    assert (last.operation, last.account_id, last.rule) == ("listConferences", ACCOUNT, None)


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Bearer a.b.c", "Bearer", "Bearer   x", "bearer x.y", "Bearer \u00e9.\u00e9.\u00e9"],
)
def test_malformed_tokens_get_401(http: httpx.Client, header: str) -> None:
    r = http.get(f"/accounts/{ACCOUNT}/calls", headers={"Authorization": header.encode("utf-8")})
    check_voice_401(r, TOKEN_MALFORMED)


def test_token_signed_with_another_key_gets_401(osim: Simulator, http: httpx.Client) -> None:
    claims = jwt.decode(get_token(http), options={"verify_signature": False})
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    check_voice_401(http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(forged)), TOKEN_BAD_SIGNATURE)
    unsigned = jwt.encode(claims, None, algorithm="none")
    check_voice_401(http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(unsigned)), TOKEN_BAD_SIGNATURE)
    with Simulator(engine_factory=LifecycleEngine) as other, httpx.Client(base_url=other.base_url) as c:
        foreign = get_token(c)
    r = http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(foreign))
    check_voice_401(r, TOKEN_BAD_SIGNATURE)
    assert osim.store.requests[-1].rule == "token-signature"


def test_expiry_is_on_the_wall_clock(
    osim: Simulator, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = get_token(http)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    tokens = osim.runtime.tokens
    # The simulator's virtual clock leaping hours ahead does not age a token.
    clock = osim.runtime.clock
    before = clock.time()
    clock._reanchor(before + 7200)  # type: ignore[attr-defined]
    assert clock.time() >= before + 7200
    assert http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token)).status_code == 200
    monkeypatch.setattr(tokens, "clock", lambda: exp - 0.01)
    assert http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token)).status_code == 200
    monkeypatch.setattr(tokens, "clock", lambda: exp)
    r = http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token))
    check_voice_401(r, TOKEN_EXPIRED)
    assert r.headers["www-authenticate"].endswith(
        'error="invalid_token", error_description="The access token expired"'
    )
    assert osim.store.requests[-1].rule == "token-expired"


def test_short_token_lifetime() -> None:
    with (
        Simulator(engine_factory=LifecycleEngine, token_lifetime=1) as sim,
        httpx.Client(base_url=sim.base_url) as c,
    ):
        r = c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=CLIENT)
        assert r.json()["expires_in"] == 1
        token = r.json()["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == pytest.approx(1, abs=1)
        sim.runtime.tokens.clock = lambda: claims["exp"] + 0.5
        check_voice_401(c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token)), TOKEN_EXPIRED)


def test_revoked_tokens_get_401_and_new_ones_work(osim: Simulator, http: httpx.Client) -> None:
    old = get_token(http)
    assert http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(old)).status_code == 200
    assert http.post(f"/_sim/credentials/{DEFAULT_CLIENT_ID}/revoke").status_code == 204
    r = http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(old))
    check_voice_401(r, TOKEN_REVOKED)
    assert osim.store.requests[-1].rule == "token-revoked"
    assert http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(get_token(http))).status_code == 200


def test_token_of_another_account_gets_403(http: httpx.Client) -> None:
    token = get_token(http, (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET))
    assert http.get(f"/accounts/{OTHER}/calls", headers=bearer(token)).status_code == 200
    r = http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token))
    assert r.status_code == 403
    assert r.json() == {"type": "authorization-error", "description": "Access is denied", "id": None}
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert http.get("/accounts/5555555/calls", headers=bearer(token)).status_code == 403


def test_one_credential_covering_two_accounts_works_on_both(http: httpx.Client) -> None:
    body = {"clientSecret": "multi-secret", "accounts": [ACCOUNT, OTHER]}
    assert http.put("/_sim/credentials/multi", json=body).status_code == 201
    try:
        auth = bearer(get_token(http, ("multi", "multi-secret")))
        for account in (ACCOUNT, OTHER):
            assert http.get(f"/accounts/{account}/calls", headers=auth).status_code == 200
        # narrowing the credential takes effect at once, without a new token
        assert http.put("/_sim/credentials/multi", json={**body, "accounts": [OTHER]}).status_code == 200
        assert http.get(f"/accounts/{ACCOUNT}/calls", headers=auth).status_code == 403
        assert http.get(f"/accounts/{OTHER}/calls", headers=auth).status_code == 200
    finally:
        http.delete("/_sim/credentials/multi")


def test_both_mode_marks_basic_as_legacy(osim: Simulator, http: httpx.Client) -> None:
    assert http.get("/health").json()["auth"] == "both"
    assert http.get(f"/accounts/{ACCOUNT}/calls", auth=AUTH).status_code == 200
    last = osim.store.requests[-1]
    assert (last.rule, last.status) == (LEGACY_BASIC_RULE, 200)
    assert last.description is not None
    assert "2026-12-02" in last.description
    http.post(f"/accounts/{ACCOUNT}/calls", json=create_body(to="nope"), auth=AUTH)
    assert osim.store.requests[-1].rule == "invalid-to"  # a broken rule wins over the legacy mark
    assert http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(get_token(http))).status_code == 200
    assert osim.store.requests[-1].rule is None
    r = http.get(f"/accounts/{ACCOUNT}/calls")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer realm=")
    assert ", Basic realm=" in r.headers["www-authenticate"]


def test_oauth2_mode_refuses_basic_with_the_retirement_message() -> None:
    with (
        Simulator(engine_factory=LifecycleEngine, auth_mode="oauth2") as sim,
        httpx.Client(base_url=sim.base_url) as c,
    ):
        assert c.get("/health").json()["auth"] == "oauth2"
        r = c.get(f"/accounts/{ACCOUNT}/calls", auth=AUTH)
        check_voice_401(r, BASIC_RETIRED, error=None)
        assert "2026-12-02" in BASIC_RETIRED
        assert "OAuth2 client credentials" in BASIC_RETIRED
        assert sim.store.requests[-1].rule == "basic-auth-retired"
        check_voice_401(c.get(f"/accounts/{ACCOUNT}/calls"), TOKEN_MISSING, error=None)
        assert sim.store.requests[-1].rule == "token-missing"
        assert c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(get_token(c))).status_code == 200


def test_basic_mode_refuses_bearer_and_issues_no_tokens() -> None:
    with (
        Simulator(engine_factory=LifecycleEngine, auth_mode="basic") as sim,
        httpx.Client(base_url=sim.base_url) as c,
    ):
        assert c.get("/health").json()["auth"] == "basic"
        r = c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=CLIENT)
        assert r.status_code == 400
        assert r.json()["error"] == "unauthorized_client"
        assert "--auth basic" in r.json()["error_description"]
        assert sim.runtime.tokens.issued == 0
        token = sim.runtime.tokens.issue(sim.store.credentials[DEFAULT_CLIENT_ID])
        r = c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token))
        assert r.status_code == 401
        assert r.json()["description"] == BEARER_NOT_ACCEPTED
        assert r.headers["www-authenticate"].startswith("Basic ")
        assert c.get(f"/accounts/{ACCOUNT}/calls", auth=AUTH).status_code == 200
        assert sim.store.requests[-1].rule is None  # Basic is not "legacy" when it is all there is


def test_cached_token_is_still_checked_every_time(osim: Simulator, http: httpx.Client) -> None:
    token = get_token(http)
    for _ in range(3):
        assert http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token)).status_code == 200
    osim.store.revoke_tokens(DEFAULT_CLIENT_ID)
    check_voice_401(http.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token)), TOKEN_REVOKED)


def test_deleted_account_leaves_tokens_pointing_nowhere_safely() -> None:
    with Simulator(engine_factory=LifecycleEngine) as sim, httpx.Client(base_url=sim.base_url) as c:
        token = get_token(c)
        assert c.delete(f"/_sim/accounts/{ACCOUNT}").status_code == 204
        assert sim.store.credentials[DEFAULT_CLIENT_ID].accounts == ()
        r = c.get(f"/accounts/{ACCOUNT}/calls", headers=bearer(token))
        assert r.status_code == 403
        assert c.post(TOKEN_PATH, content=GRANT, headers=FORM, auth=CLIENT).status_code == 200


def test_odd_tokens_signed_with_the_right_key_are_malformed_not_crashes() -> None:
    from conformance.simulator.api_errors import ApiError
    from conformance.simulator.models import ApiCredential
    from conformance.simulator.oauth import TokenAuthority
    from conformance.simulator.store import Store

    class Clock:
        def now(self) -> Any:
            return None

    key = b"k" * 32
    store = Store(Clock(), credentials=[ApiCredential("c", "s", ())])
    authority = TokenAuthority(store, key=key)
    good = {
        "iss": "bandwidth-voice-simulator",
        "sub": "c",
        "accounts": [],
        "iat": 1,
        "exp": 2.0,
        "jti": "j",
        "gen": 0,
    }
    odd_claims = [
        {**good, "exp": 10**400},
        {**good, "exp": "soon"},
        {**good, "accounts": "all"},
        {**good, "accounts": [1]},
        {**good, "gen": True},
        {**good, "sub": 5},
        {**good, "iss": "someone else"},
        {k: v for k, v in good.items() if k != "jti"},
    ]
    tokens = [jwt.encode(claims, key, algorithm="HS256") for claims in odd_claims]
    deep = base64.urlsafe_b64encode(b"[" * 50_000).decode().rstrip("=")
    tokens += [f"{deep}.{deep}.{deep}", "..", "a.b.", "\u00ff.\u00ff.\u00ff"]
    for token in tokens:
        with pytest.raises(ApiError) as info:
            authority.account_for(f"Bearer {token}", "1")
        assert (info.value.status, info.value.description) == (401, TOKEN_MALFORMED), token[:80]
