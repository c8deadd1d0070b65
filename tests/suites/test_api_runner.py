"""The api runner's use of schemathesis' ``ignored_auth`` check: as in ``st run``, an operation that has
refused missing and invalid credentials once is not probed again for every later successful case,
and an operation that accepts them still fails the check."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from pytest_httpserver import HTTPServer
from schemathesis.errors import FailureGroup
from werkzeug import Request, Response

from conformance.api.pacing import CallPacer
from conformance.api.runner import ApiRunner, operation_test

_GOOD = "Basic " + base64.b64encode(b"user:pass").decode()


def _contract() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
        "security": [{"basic": []}],
        "paths": {
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "parameters": [
                        {
                            "name": "kind",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["a", "b", "c"]},
                        },
                        {"name": "size", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"type": "array"}}},
                        },
                        "400": {"description": "bad"},
                        "401": {"description": "who"},
                    },
                }
            }
        },
    }


class _Server:
    def __init__(self, server: HTTPServer, *, enforce: bool) -> None:
        self.enforce = enforce
        self.authorized = 0
        self.refused = 0
        server.expect_request("/things").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != _GOOD:
            if self.enforce:
                self.refused += 1
                return Response("", status=401)
        else:
            self.authorized += 1
        return Response("[]", status=200, content_type="application/json")


@pytest.fixture
def http() -> Iterator[HTTPServer]:
    with HTTPServer(host="127.0.0.1", port=0) as server:
        yield server


def _run(http: HTTPServer) -> tuple[ApiRunner, Any]:
    config = schemathesis.Config.from_dict(
        {
            "base-url": http.url_for("/"),
            "generation": {"mode": "positive", "max-examples": 15, "database": "none"},
            "seed": 7,
            "headers": {"Authorization": _GOOD},
        }
    )
    schema = schemathesis.openapi.from_dict(_contract(), config=config)
    runner = ApiRunner(CallPacer())
    return runner, operation_test(schema, "GET /things", lambda case: runner.call_and_validate(case))


def test_an_operation_that_refuses_bad_credentials_is_probed_once(http: HTTPServer) -> None:
    server = _Server(http, enforce=True)
    runner, test = _run(http)
    test()
    assert server.authorized > 5  # many successful cases ...
    assert server.refused == 2  # ... and one probe without credentials, one with invalid ones
    assert runner.auth_enforced == {"GET /things"}


def test_an_operation_that_accepts_bad_credentials_still_fails_ignored_auth(http: HTTPServer) -> None:
    _Server(http, enforce=False)
    _, test = _run(http)
    with pytest.raises(FailureGroup) as caught:
        test()
    titles = [getattr(failure, "title", "") for failure in caught.value.exceptions]
    assert any("without authentication" in title or "invalid authentication" in title for title in titles)
