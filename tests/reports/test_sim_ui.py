"""``/_sim/ui``: the simulator's live view lists a call placed during the test and draws its webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from conformance.webhooks.sink import WebhookSink
from tests.reports.browser import distinct_colours, load
from tests.suites.broken_targets import OWN_AUTH, Breakage, serve

_ACCOUNT = "9900000"
_APPLICATION = "11111111-1111-4111-8111-111111111111"
_PERSON = "+19995550000"  # the simulator's far end that answers


class _Messages(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "g" and "msg" in classes:
            self.classes.append(classes)


@pytest.fixture(scope="module")
def placed_call() -> Iterator[tuple[str, str, int]]:
    """A simulator, a call it placed to an app (a sink answering with a hang-up), and how many
    webhooks the app received."""
    with serve(Breakage("none", (), "", ())) as base_url, WebhookSink() as sink:
        scope = sink.scope("ui")
        scope.reply("answer", "<Response><SpeakSentence>hi</SpeakSentence><Hangup/></Response>")
        body = {"from": "+19195550100", "to": _PERSON, "applicationId": _APPLICATION,
                "answerUrl": scope.url("answer"), "disconnectUrl": scope.url("disconnect")}  # fmt: skip
        headers = {"Authorization": OWN_AUTH}
        created = httpx.post(f"{base_url}/accounts/{_ACCOUNT}/calls", json=body, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        call_id = created.json()["callId"]
        scope.wait_for("disconnect", timeout=15)
        yield base_url, call_id, len(scope.requests)


def test_the_page_lists_the_call_and_draws_its_webhooks(placed_call: tuple[str, str, int]) -> None:
    base_url, call_id, received = placed_call
    page = httpx.get(f"{base_url}/_sim/ui", params={"call": call_id}, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'href="/_sim/ui?call={call_id}"' in page.text
    parser = _Messages()
    parser.feed(page.text)
    assert sum("webhook" in c for c in parser.classes) == received  # answer and disconnect
    assert any("rest" in c for c in parser.classes)  # the createCall that placed it
    assert "SpeakSentence, Hangup" in page.text  # the app's BXML reply, by verbs


def test_the_state_endpoint_feeds_the_refresh(placed_call: tuple[str, str, int]) -> None:
    base_url, call_id, _ = placed_call
    state = httpx.get(f"{base_url}/_sim/ui/state", params={"call": call_id}, timeout=10).json()
    assert call_id in state["calls"]
    assert "<svg" in state["diagram"]
    assert state["live"] is False  # the call has ended
    unknown = httpx.get(f"{base_url}/_sim/ui/state", params={"call": "<b>nope</b>"}, timeout=10).json()
    assert "&lt;b&gt;nope&lt;/b&gt;" in unknown["diagram"]
    assert json.dumps(unknown)  # plain JSON, no markup from the query


def test_the_page_loads_in_the_browser(placed_call: tuple[str, str, int]) -> None:
    base_url, call_id, _ = placed_call
    loaded = load(f"{base_url}/_sim/ui?call={call_id}", width=1000, height=900, budget_ms=2500)
    assert loaded.console_errors == []
    assert distinct_colours(loaded.screenshot) > 40
