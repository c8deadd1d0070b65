"""The sink over real HTTP: scopes, scripted replies, faults, recording, waiting, checking."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from conformance.errors import ConfigurationError, ConformanceError
from conformance.webhooks import (
    RecordFormatError,
    Reply,
    ScriptError,
    Webhook,
    WebhookProblems,
    WebhookSink,
    WebhookTimeout,
    read_log,
)
from conformance.webhooks.script import DEFAULT_BXML

from .conftest import SMALL_CATALOGUE, payload

HELLO = "<Response><SpeakSentence>hello</SpeakSentence></Response>"


def test_binds_loopback_on_an_ephemeral_port(sink: WebhookSink) -> None:
    assert sink.local_url.startswith("http://127.0.0.1:")
    assert not sink.local_url.endswith(":0")
    assert sink.base_url == sink.local_url


def test_scopes_are_isolated(sink: WebhookSink, client: httpx.Client) -> None:
    first, second = sink.scope("test a"), sink.scope("test a")
    assert first.prefix != second.prefix
    assert first.prefix.startswith("/s/test-a-")
    first.reply("answer", HELLO)
    client.post(first.url("answer"), json=payload("answer", "c-a"))
    reply = client.post(second.url("answer"), json=payload("answer", "c-b"))
    assert reply.text == DEFAULT_BXML.decode()  # second's script is its own
    assert [w.call_id for w in first.requests] == ["c-a"]
    assert [w.call_id for w in second.requests] == ["c-b"]
    assert [w.call_id for w in sink.requests] == ["c-a", "c-b"]


def test_public_base_url_is_what_the_target_is_given() -> None:
    with WebhookSink(catalogue=SMALL_CATALOGUE, public_base_url="https://tunnel.example/") as sink:
        scope = sink.scope()
        assert scope.url("answer") == f"https://tunnel.example{scope.prefix}answer"
        assert sink.local_url.startswith("http://127.0.0.1:")


def test_bad_public_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        WebhookSink(catalogue=SMALL_CATALOGUE, public_base_url="tunnel.example")
    assert info.value.reason == "bad-callback-url"


def test_stray_request_is_answered_404_and_is_a_problem(sink: WebhookSink, client: httpx.Client) -> None:
    sink.scope()
    response = client.post(sink.local_url + "/s/nobody/answer", json=payload("answer"))
    assert response.status_code == 404
    (stray,) = sink.stray
    assert stray.scope is None
    assert [p.reason for p in stray.problems] == ["unscoped"]
    with pytest.raises(WebhookProblems, match="belongs to no scope"):
        sink.check()


# -- scripted replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "status", "body"),
    [
        ("answer", 200, DEFAULT_BXML),  # takes call BXML: explicit hang-up
        ("transferAnswer", 200, DEFAULT_BXML),
        ("conferenceCreated", 204, b""),  # conference BXML or empty: empty
        ("disconnect", 204, b""),  # takes no BXML
    ],
)
def test_default_replies(
    sink: WebhookSink, client: httpx.Client, event: str, status: int, body: bytes
) -> None:
    scope = sink.scope()
    response = client.post(scope.url(event), json=payload(event))
    assert (response.status_code, response.content) == (status, body)
    if body:
        assert response.headers["content-type"] == "application/xml; charset=utf-8"
    assert scope.requests[0].outcome.source == "default"


def test_unknown_event_gets_204(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    response = client.post(scope.url("x"), json=payload("bogusEvent"))
    assert response.status_code == 204


def test_reply_per_event_and_per_call(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.reply("answer", HELLO)
    scope.reply("answer", "<Response><Pause duration='1'/></Response>", call_id="c-special")
    scope.reply(None, Reply.empty(202))  # any other event
    assert client.post(scope.url("a"), json=payload("answer", "c-1")).text == HELLO
    assert "Pause" in client.post(scope.url("a"), json=payload("answer", "c-special")).text
    assert client.post(scope.url("g"), json=payload("gather")).status_code == 202
    assert [w.outcome.source for w in scope.requests] == ["scripted"] * 3


def test_counted_replies_go_first_then_the_latest_permanent_one(
    sink: WebhookSink, client: httpx.Client
) -> None:
    scope = sink.scope()
    scope.reply("gather", "<Response>old</Response>")
    scope.reply("gather", "<Response>for ever</Response>")  # overrides the earlier permanent rule
    scope.reply_sequence("gather", ["<Response>1</Response>", "<Response>2</Response>"])
    scope.reply("gather", "<Response>3</Response>", times=2)
    texts = [client.post(scope.url("g"), json=payload("gather")).text for _ in range(6)]
    assert texts == [
        "<Response>1</Response>",
        "<Response>2</Response>",
        "<Response>3</Response>",
        "<Response>3</Response>",
        "<Response>for ever</Response>",
        "<Response>for ever</Response>",
    ]


def test_counted_reply_then_the_default(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.reply("answer", "<Response>once</Response>", times=1)
    assert client.post(scope.url("a"), json=payload("answer")).text == "<Response>once</Response>"
    assert client.post(scope.url("a"), json=payload("answer")).content == DEFAULT_BXML


def test_reply_function_sees_the_payload(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()

    def by_digits(data: dict[str, object]) -> str | None:
        if data.get("digits") == "1":
            return "<Response><SpeakSentence>one</SpeakSentence></Response>"
        return None  # default reply

    scope.reply("gather", by_digits)
    assert "one" in client.post(scope.url("g"), json=payload("gather", digits="1")).text
    assert client.post(scope.url("g"), json=payload("gather", digits="2")).content == DEFAULT_BXML
    assert [w.outcome.source for w in scope.requests] == ["scripted", "default"]


def test_failing_reply_function_is_reraised_by_check(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()

    def broken(data: dict[str, object]) -> str:
        raise KeyError("no such digit")

    scope.reply("gather", broken)
    assert client.post(scope.url("g"), json=payload("gather")).status_code == 500
    with pytest.raises(KeyError, match="no such digit"):
        scope.check()
    with pytest.raises(KeyError):
        sink.check()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.reply("recordingComplete", HELLO), "unknown webhook event 'recordingComplete'"),
        (lambda s: s.reply("answer", 42), "a reply is str, bytes, Reply"),
        (lambda s: s.reply("answer", HELLO, times=0), "times must be a positive integer"),
        (lambda s: s.reply("answer", Reply(status=99)), "status must be an HTTP status"),
        (lambda s: s.fault("answer"), "a fault needs"),
        (lambda s: s.fault("answer", status=500, drop=True), "not both"),
        (lambda s: s.fault("answer", delay=-1), "delay must be finite"),
        (lambda s: s.fault("answer", status=700), "status must be an HTTP status"),
    ],
)
def test_bad_scripts_are_named_errors(sink: WebhookSink, call: object, message: str) -> None:
    scope = sink.scope()
    with pytest.raises(ScriptError, match=message) as info:
        call(scope)  # type: ignore[operator]
    assert isinstance(info.value, ValueError)
    assert info.value.reason == "bad-script"


# -- faults -----------------------------------------------------------------------------------------


def test_fault_status_times_then_normal(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.reply("answer", HELLO)
    scope.fault("answer", status=503, times=2)
    statuses = [client.post(scope.url("a"), json=payload("answer")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [w.outcome.source for w in scope.requests] == ["fault", "fault", "scripted"]
    assert client.post(scope.url("a"), json=payload("answer")).text == HELLO  # reply not used up


def test_fault_only_for_one_call(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.fault("answer", status=500, call_id="c-bad")
    assert client.post(scope.url("a"), json=payload("answer", "c-good")).status_code == 200
    assert client.post(scope.url("a"), json=payload("answer", "c-bad")).status_code == 500


def test_dropped_connection_gets_no_response(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.fault("answer", drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(scope.url("a"), json=payload("answer"))
    assert client.post(scope.url("a"), json=payload("answer")).status_code == 200
    dropped, answered = scope.requests
    assert dropped.outcome.dropped
    assert dropped.outcome.status is None
    assert not answered.outcome.dropped


def test_delay_outlasts_the_callers_timeout(sink: WebhookSink) -> None:
    scope = sink.scope()
    scope.fault("answer", delay=30, times=1)
    with httpx.Client(trust_env=False, timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post(scope.url("a"), json=payload("answer"))
    # recorded on arrival, before the delay: the test can see the webhook it made time out
    assert scope.wait_for("answer", timeout=5).outcome.delay == 30


def test_delay_then_the_normal_reply(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.reply("answer", HELLO)
    scope.fault("answer", delay=0.05)
    response = client.post(scope.url("a"), json=payload("answer"))
    assert response.text == HELLO
    assert scope.requests[0].outcome.delay == 0.05


def test_stop_wakes_a_delayed_reply_and_drops_it(client: httpx.Client) -> None:
    sink = WebhookSink(catalogue=SMALL_CATALOGUE)
    sink.start()
    scope = sink.scope()
    scope.fault("answer", delay=600)
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.post(scope.url("a"), json=payload("answer"), timeout=60)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    scope.wait_for("answer", timeout=5)
    sink.stop()  # returns once the delayed reply thread has finished
    caller.join(timeout=30)
    assert not caller.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)


# -- recording --------------------------------------------------------------------------------------


def test_every_detail_is_recorded(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    body = json.dumps(payload("disconnect", cause="hangup")).encode()
    client.post(
        scope.url("status/disconnect?x=1&x=2"),
        content=body,
        headers={"Content-Type": "application/json", "X-Custom": "yes"},
        auth=("user", "pa:ss"),
    )
    (webhook,) = scope.requests
    assert webhook.method == "POST"
    assert webhook.path == scope.prefix + "status/disconnect"
    assert webhook.event_path == "status/disconnect"
    assert webhook.query == {"x": ("1", "2")}
    assert webhook.headers["X-Custom"] == "yes"
    assert webhook.auth == ("user", "pa:ss")
    assert webhook.body == body
    assert webhook.payload == payload("disconnect", cause="hangup")
    assert (webhook.event_type, webhook.call_id, webhook.problems) == ("disconnect", "c-1", ())
    assert webhook.received_at.tzinfo is not None


def test_get_callbacks_are_typed_back_from_the_schema(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    query = {
        **payload("machineDetectionComplete"),
        "enabled": "true",
        "score": "0.75",
    }
    client.get(scope.url("amd"), params=query)
    client.get(scope.url("d"), params={**payload("disconnect"), "sipResponseCode": "486"})
    client.get(scope.url("d"), params={**payload("disconnect"), "sipResponseCode": "busy"})
    amd, typed, wrong = scope.requests
    assert amd.payload is not None
    assert amd.payload["enabled"] is True
    assert amd.payload["score"] == 0.75
    assert amd.payload["callId"] == "c-1"
    assert not amd.problems
    assert typed.payload is not None
    assert typed.payload["sipResponseCode"] == 486
    assert [p.field for p in wrong.problems] == ["sipResponseCode"]


def test_jsonl_log_one_complete_line_per_request(tmp_path: Path, client: httpx.Client) -> None:
    log = tmp_path / "sink.jsonl"
    with WebhookSink(catalogue=SMALL_CATALOGUE, log_path=log) as sink:
        scope = sink.scope("log")
        scope.fault("answer", drop=True, times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(scope.url("a"), json=payload("answer"))
        client.post(scope.url("a"), json=payload("answer"), auth=("u", "p"))
        client.post(scope.url("bin"), content=b"\xff\x00", headers={"Content-Type": "application/json"})
        # flushed as it goes: readable while the sink runs
        assert len(log.read_text().splitlines()) == 3
    lines = log.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 4
    records = [json.loads(line) for line in lines[:-1]]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["reply"]["dropped"] is True
    assert records[1]["auth"] == ["u", "p"]
    assert records[1]["reply"]["status"] == 200
    assert records[2]["body_base64"] == "/wA="
    assert [p["reason"] for p in records[2]["problems"]] == ["not-json"]
    round_trip = [Webhook.from_json(r) for r in records]
    assert round_trip[1].payload == payload("answer")
    assert round_trip[2].body == b"\xff\x00"


def test_log_appends_across_runs(tmp_path: Path, client: httpx.Client) -> None:
    log = tmp_path / "sink.jsonl"
    for _ in range(2):
        with WebhookSink(catalogue=SMALL_CATALOGUE, log_path=log) as sink:
            client.post(sink.scope().url("a"), json=payload("answer"))
    assert len(log.read_text().splitlines()) == 2


def test_unwritable_log_is_a_configuration_error(tmp_path: Path) -> None:
    sink = WebhookSink(catalogue=SMALL_CATALOGUE, log_path=tmp_path / "missing" / "x.jsonl")
    with pytest.raises(ConfigurationError) as info:
        sink.start()
    assert info.value.reason == "bad-log-path"
    assert not sink.is_running()


# -- waiting and checking ---------------------------------------------------------------------------


def test_wait_for_blocks_until_the_webhook_arrives(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    release = threading.Event()

    def target() -> None:
        release.wait(5)
        client.post(scope.url("a"), json=payload("answer", "c-9"))
        client.post(scope.url("g"), json=payload("gather", "c-9", digits="42"))

    worker = threading.Thread(target=target)
    worker.start()
    release.set()
    gather = scope.wait_for("gather", call_id="c-9", timeout=10, predicate=lambda w: w.seq > 0)
    worker.join()
    assert gather.payload is not None
    assert gather.payload["digits"] == "42"
    answer = scope.wait_for("answer", timeout=0)
    assert scope.wait_for(None, after=answer, timeout=0) is gather


def test_wait_for_timeout_lists_what_was_received(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    client.post(scope.url("a"), json=payload("answer", "c-7"))
    with pytest.raises(WebhookTimeout) as info:
        scope.wait_for("disconnect", call_id="c-7", timeout=0.05)
    text = str(info.value)
    assert "no disconnect for callId c-7" in text
    assert "answer callId=c-7" in text
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, ConformanceError)
    assert info.value.reason == "webhook-timeout"
    empty = sink.scope()
    with pytest.raises(WebhookTimeout, match="nothing"):
        empty.wait_for("answer", timeout=0)


def test_check_passes_on_clean_webhooks(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    client.post(scope.url("a"), json=payload("answer"))
    scope.check()
    sink.check()


def test_check_fails_on_schema_problems_of_its_own_scope_only(
    sink: WebhookSink, client: httpx.Client
) -> None:
    good, bad = sink.scope(), sink.scope()
    client.post(good.url("a"), json=payload("answer"))
    client.post(bad.url("a"), json=payload("answerr"))
    good.check()
    with pytest.raises(WebhookProblems) as info:
        bad.check()
    assert "'answerr' is not an event of the contract" in str(info.value)
    assert isinstance(info.value, AssertionError)
    assert [w.event_type for w in info.value.webhooks] == ["answerr"]


def test_on_webhook_errors_are_collected(client: httpx.Client) -> None:
    def explode(webhook: Webhook) -> None:
        raise RuntimeError("printer on fire")

    with WebhookSink(catalogue=SMALL_CATALOGUE, on_webhook=explode) as sink:
        response = client.post(sink.scope().url("a"), json=payload("answer"))
        assert response.status_code == 200  # the target is not punished for our callback
        with pytest.raises(RuntimeError, match="printer on fire"):
            sink.check()


def test_events_filters(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    for event, call in (("answer", "c-1"), ("answer", "c-2"), ("disconnect", "c-1")):
        client.post(scope.url(event), json=payload(event, call))
    assert [w.call_id for w in scope.events("answer")] == ["c-1", "c-2"]
    assert [w.event_type for w in scope.events(call_id="c-1")] == ["answer", "disconnect"]
    assert scope.events("gather") == []


def test_catch_all_scope_takes_any_path(sink: WebhookSink, client: httpx.Client) -> None:
    scoped = sink.scope()
    catch_all = sink.catch_all()
    assert sink.catch_all() is catch_all
    client.post(sink.local_url + "/anything/at/all", json=payload("answer"))
    client.post(scoped.url("a"), json=payload("answer"))
    assert [w.event_path for w in catch_all.requests] == ["anything/at/all"]
    assert len(scoped.requests) == 1
    assert sink.stray == []


def test_concurrent_webhooks_make_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "busy.jsonl"
    with WebhookSink(catalogue=SMALL_CATALOGUE, log_path=log) as sink:
        scope = sink.scope()
        padding = "x" * 20_000  # long lines, so interleaved writes would show

        def burst(worker: int) -> None:
            with httpx.Client(trust_env=False, timeout=10) as http:
                for i in range(8):
                    http.post(scope.url("d"), json=payload("disconnect", f"c-{worker}-{i}", cause=padding))

        threads = [threading.Thread(target=burst, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    records = read_log(log)
    assert len(records) == 48
    assert sorted(r.seq for r in records) == list(range(1, 49))
    assert {r.call_id for r in records} == {f"c-{w}-{i}" for w in range(6) for i in range(8)}
    assert [r.seq for r in records] == [w.seq for w in sink.requests]


def test_read_log_names_a_broken_line(tmp_path: Path) -> None:
    log = tmp_path / "broken.jsonl"
    log.write_text('{"seq": 1}\n')
    with pytest.raises(RecordFormatError, match=r"broken.jsonl:1: not a webhook record"):
        read_log(log)
    log.write_text("[]\n")
    with pytest.raises(RecordFormatError, match="not a JSON object"):
        read_log(log)
    log.write_text('{"seq": 1')
    with pytest.raises(RecordFormatError, match="incomplete"):
        read_log(log)


def test_primary_url_fails_while_its_fallback_answers(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.reply("answer", HELLO)
    scope.fault("answer", status=503, path="primary")
    assert client.post(scope.url("primary"), json=payload("answer")).status_code == 503
    assert client.post(scope.url("fallback"), json=payload("answer")).text == HELLO
    assert [w.event_path for w in scope.events("answer", path="fallback")] == ["fallback"]
    fallback = scope.wait_for("answer", path="/fallback", timeout=0)
    assert fallback.outcome.source == "scripted"
    with pytest.raises(WebhookTimeout, match="on path 'elsewhere'"):
        scope.wait_for("answer", path="elsewhere", timeout=0)


def test_the_most_specific_rule_wins(sink: WebhookSink, client: httpx.Client) -> None:
    scope = sink.scope()
    scope.reply(None, "<Response>any</Response>", path="p")  # a path beats an event
    scope.reply("answer", "<Response>answer</Response>", call_id="c-1")
    scope.reply("answer", "<Response>answer, any call</Response>")
    scope.reply(None, "<Response>c-2, any event</Response>", call_id="c-2")

    def text(path: str, call: str) -> str:
        return client.post(scope.url(path), json=payload("answer", call)).text

    assert text("p", "c-1") == "<Response>any</Response>"
    assert text("q", "c-1") == "<Response>answer</Response>"
    assert text("q", "c-2") == "<Response>answer, any call</Response>"
    assert (
        client.post(scope.url("q"), json=payload("gather", "c-2")).text
        == "<Response>c-2, any event</Response>"
    )


def test_life_cycle_errors_are_named(client: httpx.Client) -> None:
    sink = WebhookSink(catalogue=SMALL_CATALOGUE)
    scope = sink.scope()
    with pytest.raises(ConfigurationError) as info:
        scope.url("answer")
    assert info.value.reason == "sink-not-started"
    with sink:
        with pytest.raises(ConfigurationError) as again:
            sink.start()
        assert again.value.reason == "sink-running"
        first_url = scope.url("answer")
    assert not sink.is_running()
    sink.stop()  # stopping twice is harmless
    with sink:  # a restart keeps the port, so URLs handed out stay valid
        assert scope.url("answer") == first_url
        assert client.post(first_url, json=payload("answer")).status_code == 200
