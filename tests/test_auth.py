"""The run's Authenticator: one cached token, refreshed early and once on an expired-token 401, and a
token endpoint that answers anything but a token is a setup error that never shows the secret."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import requests
from pytest_httpserver import HTTPServer

from conformance.auth import (
    AuthenticationFailedError,
    Authenticator,
    TokenEndpointError,
    basic_header,
    default_token_url,
    says_token_expired,
)
from conformance.errors import ConfigurationError, TargetUnreachableError
from conformance.settings import BANDWIDTH_TOKEN_URL
from conformance.simulator import Simulator

SECRET = "a-client-secret-for-tests"
STATISTICS = "/accounts/9900000/statistics"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator(auth_mode="oauth2") as sim:
        yield sim


def _authenticator(sim: Simulator, clock: FakeClock | None = None, **changes: str) -> Authenticator:
    values = {"client_id": "bw-client", "client_secret": "bw-client-secret", "token_url": sim.token_url}
    values.update(changes)
    return Authenticator(mode="oauth2", clock=clock or FakeClock(), **values)  # type: ignore[arg-type]


def _at(token_url: str) -> Authenticator:
    return Authenticator(mode="oauth2", client_id="id", client_secret=SECRET, token_url=token_url)


def test_one_token_is_fetched_and_reused(simulator: Simulator) -> None:
    auth = _authenticator(simulator)
    with httpx.Client(base_url=simulator.base_url, auth=auth.httpx_auth) as client:
        for _ in range(5):
            assert client.get(STATISTICS).status_code == 200
    assert auth.tokens_fetched == 1
    assert auth.authorization().startswith("Bearer ")


def test_the_token_is_replaced_a_minute_before_it_expires(simulator: Simulator) -> None:
    clock = FakeClock()
    auth = _authenticator(simulator, clock)
    first = auth.authorization()
    clock.now += 3600 - 61  # the simulator's tokens live an hour
    assert auth.authorization() == first
    clock.now += 2
    auth.authorization()
    assert auth.tokens_fetched == 2


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_a_revoked_token_is_refreshed_once_transparently(simulator: Simulator, client: str) -> None:
    auth = _authenticator(simulator)
    url = simulator.base_url + STATISTICS

    def get() -> int:
        if client == "httpx":
            return httpx.get(url, auth=auth.httpx_auth).status_code
        return requests.get(url, auth=auth.requests_auth, timeout=10).status_code

    assert get() == 200
    revoked = httpx.post(f"{simulator.base_url}/_sim/credentials/bw-client/revoke")
    assert revoked.status_code < 300
    assert get() == 200
    assert auth.tokens_fetched == 2


def test_a_401_that_is_not_about_the_token_is_not_retried(simulator: Simulator) -> None:
    auth = _authenticator(simulator)
    with httpx.Client(base_url=simulator.base_url, auth=auth.httpx_auth) as client:
        # The other account's path: 403, no refresh; an unknown path stays what it is.
        assert client.get("/accounts/9900001/statistics").status_code == 403
    assert auth.tokens_fetched == 1


def test_wrong_secret_is_an_authentication_failure_without_the_secret(simulator: Simulator) -> None:
    auth = _authenticator(simulator, client_secret=SECRET)
    with pytest.raises(AuthenticationFailedError) as caught:
        auth.authorization()
    message = str(caught.value)
    assert "client id bw-client" in message
    assert "invalid_client" in message
    assert SECRET not in message
    assert SECRET not in repr(auth)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (200, "<html><body>Sign in to the proxy</body></html>", "text/html", "not a JSON token reply"),
        (502, "Bad gateway", "text/plain", "not a JSON token reply"),
        (200, json.dumps({"token_type": "Bearer"}), "application/json", "without a usable access_token"),
        (200, json.dumps({"access_token": "x", "token_type": "mac"}), "application/json", "not Bearer"),
        (200, json.dumps({"access_token": "x", "expires_in": "soon"}), "application/json", "expires_in"),
        (200, json.dumps(["access_token"]), "application/json", "not a JSON token reply"),
    ],
)
def test_a_token_endpoint_answering_garbage_is_a_setup_error(
    httpserver: HTTPServer, status: int, body: str, content_type: str, expected: str
) -> None:
    httpserver.expect_request("/token", method="POST").respond_with_data(
        body, status=status, content_type=content_type
    )
    auth = Authenticator(
        mode="oauth2", client_id="id", client_secret=SECRET, token_url=httpserver.url_for("/token")
    )
    with pytest.raises(TokenEndpointError, match=expected) as caught:
        auth.authorization()
    assert isinstance(caught.value, ConfigurationError)
    assert SECRET not in str(caught.value)


def test_the_token_request_is_the_documented_one(httpserver: HTTPServer) -> None:
    seen: list[tuple[str, str, str]] = []

    def handler(request: object) -> object:
        from werkzeug import Request, Response

        assert isinstance(request, Request)
        seen.append(
            (request.headers.get("Authorization", ""), request.mimetype, request.get_data(as_text=True))
        )
        return Response(
            json.dumps({"access_token": "tok", "token_type": "bearer"}), mimetype="application/json"
        )

    httpserver.expect_request("/token", method="POST").respond_with_handler(handler)
    auth = Authenticator(
        mode="oauth2", client_id="id", client_secret=SECRET, token_url=httpserver.url_for("/token")
    )
    assert auth.authorization() == "Bearer tok"
    assert seen == [
        (basic_header("id", SECRET), "application/x-www-form-urlencoded", "grant_type=client_credentials")
    ]


def test_an_unreachable_token_endpoint_is_unreachable() -> None:
    auth = Authenticator(
        mode="oauth2", client_id="id", client_secret=SECRET, token_url="http://127.0.0.1:9/token"
    )
    with pytest.raises(
        TargetUnreachableError, match=r"token endpoint http://127\.0\.0\.1:9/token is unreachable"
    ):
        auth.authorization()


def test_basic_mode_sends_the_legacy_header() -> None:
    auth = Authenticator(mode="basic", username="u", password="p")
    assert auth.authorization() == basic_header("u", "p")
    assert auth.principal == "user u"


def test_token_url_defaults() -> None:
    assert default_token_url("http://127.0.0.1:8080/api/v2", is_simulator=True) == (
        "http://127.0.0.1:8080/api/v1/oauth2/token"
    )
    assert default_token_url("https://voice.bandwidth.com/api/v2", is_simulator=False) == BANDWIDTH_TOKEN_URL


def test_expired_token_answers_are_recognised() -> None:
    assert says_token_expired(401, {"www-authenticate": 'Bearer error="invalid_token"'}, b"")
    assert says_token_expired(401, {}, b'{"description": "The access token expired"}')
    assert not says_token_expired(401, {"www-authenticate": "Basic"}, b"bad credentials")
    assert not says_token_expired(403, {"www-authenticate": 'Bearer error="invalid_token"'}, b"")
