"""Issue 11 §3 (REST side): every operation that takes a body answers hostile values with a named
4xx, never a 500, whatever JSON number or type sits in whatever field.

The numbers are written as JSON text, so values Python's json module turns into something odd are
covered: integers of thousands of digits (float() overflows, str() has a 4,300-digit limit), 1e400
(infinity), -0, 5e-324, NaN/Infinity literals, and booleans where numbers go.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.simulator import Simulator
from conformance.simulator.api_errors import ApiError
from conformance.simulator.engine.documents import load
from conformance.simulator.runtime import engine_call

from .conftest import ACCOUNT, AUTH, RecordingEngine, create_body, seed_call, seed_conference, seed_recording

JSON = {"content-type": "application/json"}

# JSON texts of values, the nasty ones first.
LITERALS = [
    "1" + "0" * 4000,
    "-" + "9" * 4000,
    "9" * 4299,
    "1e300",
    "-1e300",
    "1e400",
    "-1e400",
    "5e-324",
    "-0",
    "-0.0",
    "0",
    "NaN",
    "Infinity",
    "-Infinity",
    "true",
    "false",
    "null",
    '"5"',
    '""',
    "[]",
    "{}",
    "[1e400]",
    '{"x": 1e400}',
    "2.0",
    "1.5",
]
NUMERIC_TEXT = st.one_of(
    st.sampled_from(LITERALS),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=300, max_value=4400).map(lambda n: "7" * n),
)

# Every field of every body-taking operation whose value is a number, a boolean or an object.
OPERATIONS: dict[str, tuple[str, str, dict[str, object], list[str]]] = {
    "createCall": (
        "POST",
        "/accounts/{account}/calls",
        create_body(),
        [
            "callTimeout",
            "callbackTimeout",
            "priority",
            "privacy",
            "machineDetection",
            "machineDetection.detectionTimeout",
            "machineDetection.silenceTimeout",
            "machineDetection.speechThreshold",
            "machineDetection.speechEndThreshold",
            "machineDetection.machineSpeechEndThreshold",
            "machineDetection.delayResult",
            "to",
            "tag",
        ],
    ),
    "updateCall": (
        "POST",
        "/accounts/{account}/calls/{call}",
        {"state": "active"},
        ["state", "redirectUrl", "tag"],
    ),
    "updateCallRecordingState": ("PUT", "/accounts/{account}/calls/{call}/recording", {}, ["state"]),
    "transcribeCallRecording": (
        "POST",
        "/accounts/{account}/calls/{call}/recordings/{rec}/transcription",
        {"callbackUrl": "https://example.test/t"},
        ["callbackTimeout", "detectLanguage", "tag"],
    ),
    "updateConference": ("POST", "/accounts/{account}/conferences/{conf}", {}, ["status", "redirectUrl"]),
    "updateConferenceMember": (
        "PUT",
        "/accounts/{account}/conferences/{conf}/members/{call}",
        {},
        ["mute", "hold", "callIdsToCoach"],
    ),
}


def _body_text(base: dict[str, object], field: str, literal: str) -> str:
    """``base`` as JSON with ``field`` (``a.b`` for a nested one) set to the raw ``literal``."""
    marker = "__HOSTILE__"
    body = json.loads(json.dumps(base))
    if "." in field:
        outer, inner = field.split(".", 1)
        body[outer] = {"mode": "async", inner: marker}
    else:
        body[field] = marker
    return json.dumps(body).replace(json.dumps(marker), literal)


@pytest.fixture(scope="module")
def hostile_sim() -> Iterator[Simulator]:
    with Simulator(engine_factory=RecordingEngine) as sim:
        store = sim.store
        call = seed_call(store)
        rec = seed_recording(store, call)
        conf, _ = seed_conference(store, call)
        sim.app.state.ids = {
            "account": ACCOUNT,
            "call": call.call_id,
            "rec": rec.recording_id,
            "conf": conf.id,
        }
        yield sim


@pytest.fixture(scope="module")
def http(hostile_sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_sim.base_url, auth=AUTH, timeout=30) as client:
        yield client


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json")
        assert set(response.json()) == {"type", "description", "id"}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_values_in_any_field_are_never_a_500(
    http: httpx.Client, hostile_sim: Simulator, operation: str, data: st.DataObject
) -> None:
    method, template, base, fields = OPERATIONS[operation]
    field = data.draw(st.sampled_from(fields), label="field")
    literal = data.draw(NUMERIC_TEXT, label="value")
    path = template.format(**hostile_sim.app.state.ids)
    response = http.request(method, path, content=_body_text(base, field, literal).encode(), headers=JSON)
    _check(response)


@pytest.mark.parametrize("literal", ["1" + "0" * 4000, "1e300", "1e400", "-0", "true", "NaN"])
def test_call_timeout_outside_the_number_range_is_a_named_400(http: httpx.Client, literal: str) -> None:
    r = http.post(
        f"/accounts/{ACCOUNT}/calls", content=_body_text(create_body(), "callTimeout", literal), headers=JSON
    )
    assert r.status_code == 400
    assert r.json()["description"].startswith("Invalid ")


@pytest.mark.parametrize("literal", ["5.011336257958781e+307", "4.224868880465104e+16", "0", "86400"])
def test_machine_detection_takes_any_double_the_contract_allows(http: httpx.Client, literal: str) -> None:
    """The contract gives the detection thresholds a minimum (0) and no maximum: no cap of our own."""
    body = create_body(machineDetection={"mode": "async"})
    for field in ("speechThreshold", "machineSpeechEndThreshold", "detectionTimeout"):
        r = http.post(
            f"/accounts/{ACCOUNT}/calls",
            content=_body_text(body, f"machineDetection.{field}", literal),
            headers=JSON,
        )
        assert r.status_code == 201, (field, r.text)


def test_a_document_nested_too_deep_is_a_400(http: httpx.Client, hostile_sim: Simulator) -> None:
    call = seed_call(hostile_sim.store)
    deep = "<Response>" + "<Gather>" * 33 + "</Gather>" * 33 + "</Response>"
    r = http.put(
        f"/accounts/{ACCOUNT}/calls/{call.call_id}/bxml",
        content=deep,
        headers={"content-type": "application/xml"},
    )
    assert r.status_code == 400
    assert r.json()["description"].startswith("Invalid BXML")


def test_an_engine_refusing_a_document_by_a_named_error_is_a_400() -> None:
    """The engine parses documents itself: its InvalidBxml (a ConformanceError) is a 400 too."""
    deep = "<Response>" + "<Pause/>".join(["<Gather>"] * 40) + "</Gather>" * 40 + "</Response>"
    with pytest.raises(ApiError) as info:
        engine_call(lambda: load(deep, "call"))
    assert info.value.status == 400
    assert info.value.rule.startswith("engine-")


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ("<Response><SpeakSentence>" + "hello there " * 500 + "</SpeakSentence></Response>", 204),
        ("<Response><Pause " + " ".join(f'a{i}="1"' for i in range(2000)) + "/></Response>", 400),
    ],
    ids=["valid", "2000-unknown-attributes"],
)
def test_big_documents_are_judged_off_the_event_loop_like_small_ones(
    http: httpx.Client, hostile_sim: Simulator, document: str, status: int
) -> None:
    """Documents over 4 KB are validated on a worker thread; the verdict is the same."""
    call = seed_call(hostile_sim.store)
    path = f"/accounts/{ACCOUNT}/calls/{call.call_id}/bxml"
    r = http.put(path, content=document, headers={"content-type": "application/xml"})
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["description"].startswith("Invalid BXML")
