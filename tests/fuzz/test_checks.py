"""Each check, on hand-made exchanges: the reply rules of issue 6 §2."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.fuzz.checks import CHECKS, check_exchange
from conformance.fuzz.targets import Exchange
from conformance.webhooks.events import EventType, event


def _exchange(status: int | None = 200, body: bytes = b"", elapsed: float = 0.01, **extra: Any) -> Exchange:
    return Exchange(
        "POST", "http://app/", {"eventType": "x"}, status, "application/xml", body, elapsed, **extra
    )


def _check(name: str, exchange: Exchange, timeout: float = 15.0) -> str | None:
    problem = check_exchange(event(name), exchange, callback_timeout=timeout)
    return None if problem is None else problem.check


GOOD_CALL = b"<Response><SpeakSentence>Hi</SpeakSentence></Response>"


@pytest.mark.parametrize(
    ("name", "exchange", "expected"),
    [
        ("answer", _exchange(body=GOOD_CALL), None),
        ("answer", _exchange(body=b"<Response><Pause duration='0'/></Response>"), "invalid_bxml"),
        ("answer", _exchange(status=204), "empty_reply"),
        ("answer", _exchange(body=b"   \n"), "empty_reply"),
        ("answer", _exchange(status=500, body=b"Traceback"), "server_error"),
        ("answer", _exchange(status=302), "status"),
        ("answer", _exchange(status=None, error="connection", detail="refused"), "connection_error"),
        ("answer", _exchange(status=None, error="timeout"), "timeout"),
        ("answer", _exchange(body=GOOD_CALL, elapsed=16.0), "timeout"),
        ("conferenceMemberJoin", _exchange(status=204), None),
        ("conferenceMemberJoin", _exchange(body=b"<Response><Hangup/></Response>"), "invalid_bxml"),
        ("conferenceMemberJoin", _exchange(body=GOOD_CALL), None),
        (
            "transferAnswer",
            _exchange(
                body=b"<Response><Transfer><PhoneNumber>+15551230000</PhoneNumber></Transfer></Response>"
            ),
            "invalid_bxml",
        ),
        ("disconnect", _exchange(status=204), None),
        (
            "disconnect",
            _exchange(status=200, body=b"<not-xml"),
            None,
        ),  # the body of an async event is ignored
        ("disconnect", _exchange(status=201), None),
        ("disconnect", _exchange(status=503), "server_error"),
        ("disconnect", _exchange(status=404), "status"),
    ],
)
def test_reply_rules(name: str, exchange: Exchange, expected: str | None) -> None:
    assert _check(name, exchange) == expected
    if expected is not None:
        assert expected in CHECKS


def test_invalid_bxml_carries_rule_line_and_count() -> None:
    body = b'<Response>\n<Gather maxDigits="0"/>\n<Pause duration="0"/>\n</Response>'
    problem = check_exchange(event("gather"), _exchange(body=body), callback_timeout=15)
    assert problem is not None
    assert problem.check == "invalid_bxml"
    assert [p.rule for p in problem.bxml] == ["attribute-range", "attribute-range"]
    assert problem.bxml[0].line == 2
    assert "and 1 more" in problem.message


def test_a_custom_validator_is_used() -> None:
    seen: list[tuple[bytes, str]] = []

    def validator(document: bytes, context: str) -> list[Any]:
        seen.append((document, context))
        return []

    ev: EventType = event("conferenceCreated")
    assert check_exchange(ev, _exchange(body=b"<x/>"), callback_timeout=1, bxml_validator=validator) is None
    assert seen == [(b"<x/>", "conference")]
