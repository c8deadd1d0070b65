"""Issue 2 §4: bad input gets a 4xx voiceApiError, never a 500 or a hang, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conformance.simulator import Simulator

from .conftest import ACCOUNT, AUTH, RecordingEngine, seed_call, seed_conference, seed_recording

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str  # with {call}, {conf}, {rec} placeholders


TARGETS = [
    Target("createCall", "POST", "/accounts/{account}/calls"),
    Target("updateCall", "POST", "/accounts/{account}/calls/{call}"),
    Target("updateCallRecordingState", "PUT", "/accounts/{account}/calls/{call}/recording"),
    Target(
        "transcribeCallRecording", "POST", "/accounts/{account}/calls/{call}/recordings/{rec}/transcription"
    ),
    Target("updateConference", "POST", "/accounts/{account}/conferences/{conf}"),
    Target("updateConferenceMember", "PUT", "/accounts/{account}/conferences/{conf}/members/{call}"),
]

# (case id, body bytes, headers, expected status)
BODY_CASES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("malformed-json", b'{"to": "+1', JSON, 400),
    ("trailing-garbage", b'{"state": "completed"} x', JSON, 400),
    ("empty-body", b"", JSON, 400),
    ("json-array", b'[{"state": "completed"}]', JSON, 400),
    ("json-number", b"42", JSON, 400),
    ("json-string", b'"completed"', JSON, 400),
    ("json-null", b"null", JSON, 400),
    ("nan-constant", b'{"callTimeout": NaN}', JSON, 400),
    ("invalid-utf8", b'{"tag": "\xff\xfe\xfa"}', JSON, 400),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, JSON, 400),
    ("text-plain", b'{"state": "completed"}', {"content-type": "text/plain;charset=UTF-8"}, 415),
    ("form-encoded", b"state=completed", {"content-type": "application/x-www-form-urlencoded"}, 415),
    ("xml-to-json-endpoint", b"<Response/>", {"content-type": "application/xml"}, 415),
    ("no-content-type", b'{"state": "completed"}', {}, 415),
    ("latin1-charset", b'{"state": "completed"}', {"content-type": "application/json; charset=latin-1"}, 415),
    ("over-1-mib", b'{"tag": "' + b"a" * (1024 * 1024) + b'"}', JSON, 413),
]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building a client per request is slow on a loaded machine."""
    with httpx.Client(auth=AUTH, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def bad_sim() -> Iterator[Simulator]:
    with Simulator(engine_factory=RecordingEngine) as simulator:
        store = simulator.store
        call = seed_call(store, state="answered")
        rec = seed_recording(store, call)
        conf, _ = seed_conference(store, call)
        simulator.app.state.ids = {
            "account": ACCOUNT,
            "call": call.call_id,
            "rec": rec.recording_id,
            "conf": conf.id,
        }
        yield simulator


def _url(sim: Simulator, target: Target) -> str:
    return sim.base_url + target.path.format(**sim.app.state.ids)


def _check_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "description", "id"}
    assert isinstance(body["type"], str)
    assert isinstance(body["description"], str)
    assert body["description"]


def _engine(sim: Simulator) -> RecordingEngine:
    engine = sim.runtime.engine
    assert isinstance(engine, RecordingEngine)
    return engine


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@pytest.mark.parametrize(("case", "body", "headers", "status"), BODY_CASES, ids=[c[0] for c in BODY_CASES])
def test_bad_bodies_are_refused_without_change(
    http: httpx.Client,
    bad_sim: Simulator,
    target: Target,
    case: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    before = bad_sim.store.fingerprint()
    engine_calls = len(_engine(bad_sim).calls)
    r = http.request(target.method, _url(bad_sim, target), content=body, headers=headers)
    _check_error(r, status)
    assert bad_sim.store.fingerprint() == before
    assert len(_engine(bad_sim).calls) == engine_calls
    assert bad_sim.store.requests[-1].rule is not None


WRONG_TYPES: dict[str, list[dict[str, Any]]] = {
    "updateCall": [{"state": ["completed"]}, {"state": "completed", "tag": {}}, {"redirectUrl": 42}],
    "updateConferenceMember": [
        {"mute": "yes"},
        {"hold": 1},
        {"callIdsToCoach": "c-1"},
        {"callIdsToCoach": [1]},
    ],
    "updateCallRecordingState": [{"state": True}, {}, {"state": "stopped"}],
    "updateConference": [{"status": 1}, {"status": "completed", "redirectUrl": "https://e.test/r"}],
    "transcribeCallRecording": [{"callbackTimeout": "9"}, {"detectLanguage": "no"}, {"callbackUrl": "x"}],
}


@pytest.mark.parametrize("name", sorted(WRONG_TYPES))
def test_wrong_field_types_in_an_object_are_400(http: httpx.Client, bad_sim: Simulator, name: str) -> None:
    target = next(t for t in TARGETS if t.name == name)
    before = bad_sim.store.fingerprint()
    for body in WRONG_TYPES[name]:
        r = http.request(target.method, _url(bad_sim, target), json=body)
        _check_error(r, 400)
    assert bad_sim.store.fingerprint() == before


ODD_IDS = [
    "%00",
    "%2e%2e",
    "..%2F..%2Fetc",
    "%3Cscript%3E",
    "%C3%BC",
    "%FF",
    "x" * 5000,
    "c-%20space",
    "%22quoted%22",
    "%25",
]


@pytest.mark.parametrize("odd", ODD_IDS, ids=range(len(ODD_IDS)))
@pytest.mark.parametrize(
    "template",
    [
        "/accounts/{account}/calls/{odd}",
        "/accounts/{account}/calls/{call}/recordings/{odd}/media",
        "/accounts/{account}/conferences/{odd}",
        "/accounts/{account}/conferences/{conf}/members/{odd}",
        "/accounts/{account}/calls/{call}/transcriptions/{odd}",
        "/accounts/{odd}/calls",
    ],
)
def test_odd_path_ids_are_4xx(http: httpx.Client, bad_sim: Simulator, template: str, odd: str) -> None:
    before = bad_sim.store.fingerprint()
    path = template.format(odd=odd, **bad_sim.app.state.ids)
    r = http.get(bad_sim.base_url + path)
    assert 400 <= r.status_code < 500
    _check_error(r, r.status_code)
    assert bad_sim.store.fingerprint() == before


@pytest.mark.parametrize("odd", ODD_IDS, ids=range(len(ODD_IDS)))
def test_odd_call_ids_list_no_recordings(http: httpx.Client, bad_sim: Simulator, odd: str) -> None:
    """listCallRecordings of an unknown call is a (potentially empty) list, as on the live API."""
    before = bad_sim.store.fingerprint()
    path = f"/accounts/{ACCOUNT}/calls/{odd}/recordings"
    r = http.get(bad_sim.base_url + path)
    assert (r.status_code, r.json()) == (200, []) or 400 <= r.status_code < 500
    assert bad_sim.store.fingerprint() == before


@pytest.mark.parametrize(
    "query",
    [
        "pageSize=abc",
        "pageSize=1e3",
        "pageSize=-1",
        "pageSize=",
        "pageSize=99999999999999999999999",
        "minStartTime=yesterday",
        "maxStartTime=2026-13-45T00:00:00Z",
        "minStartTime=2026-11-20",
        "maxStartTime=2026-11-20T10:00:00",
    ],
)
def test_wrong_query_types_are_400(http: httpx.Client, bad_sim: Simulator, query: str) -> None:
    r = http.get(f"{bad_sim.base_url}/accounts/{ACCOUNT}/calls?{query}")
    _check_error(r, 400)
    assert r.json()["description"].startswith("Invalid ")


@pytest.mark.parametrize("token", ["%FF%FE", "bz0x", "[Filtered]", "", "b246OTk5OTk5OTk5OTk5OTk5OTk5"])
def test_unknown_page_tokens_end_the_list(http: httpx.Client, bad_sim: Simulator, token: str) -> None:
    for path in ("calls", "conferences"):
        r = http.get(f"{bad_sim.base_url}/accounts/{ACCOUNT}/{path}?pageToken={token}")
        assert r.status_code == 200
        assert r.json() == []
        assert "link" not in r.headers


def test_conference_list_query_types(http: httpx.Client, bad_sim: Simulator) -> None:
    for query in ("pageSize=1001", "minCreatedTime=soon", "pageSize=x"):
        r = http.get(f"{bad_sim.base_url}/accounts/{ACCOUNT}/conferences?{query}")
        _check_error(r, 400)


def test_bxml_endpoints_want_xml(http: httpx.Client, bad_sim: Simulator) -> None:
    ids = bad_sim.app.state.ids
    before = bad_sim.store.fingerprint()
    for path in (
        f"/accounts/{ACCOUNT}/calls/{ids['call']}/bxml",
        f"/accounts/{ACCOUNT}/conferences/{ids['conf']}/bxml",
    ):
        r = http.put(bad_sim.base_url + path, content=b"<Response/>", headers=JSON)
        _check_error(r, 415)
        r = http.put(bad_sim.base_url + path, content=b"<Response>",
                      headers={"content-type": "application/xml"})  # fmt: skip
        _check_error(r, 400)
        r = http.put(bad_sim.base_url + path, content=b"<Response>\xff</Response>",
                      headers={"content-type": "application/xml"})  # fmt: skip
        _check_error(r, 400)
        big = b"<Response>" + b" " * (1024 * 1024) + b"</Response>"
        r = http.put(bad_sim.base_url + path, content=big,
                      headers={"content-type": "application/xml"})  # fmt: skip
        _check_error(r, 413)
    assert bad_sim.store.fingerprint() == before


def test_an_escaping_exception_is_a_logged_500_voice_api_error() -> None:
    class Exploding(RecordingEngine):
        def call_created(self, call: object) -> None:
            raise RuntimeError("boom")

    with Simulator(engine_factory=Exploding) as simulator:
        body = {"to": "+19195550101", "from": "+19195550100", "answerUrl": "https://e.test/a",
                "applicationId": "11111111-1111-4111-8111-111111111111"}  # fmt: skip
        r = httpx.post(f"{simulator.base_url}/accounts/{ACCOUNT}/calls", json=body, auth=AUTH, timeout=10)
        assert r.status_code == 500
        assert r.json() == {
            "type": "internal-error",
            "description": "An unknown internal error occurred",
            "id": None,
        }
        assert simulator.store.calls == {}
        last = simulator.store.requests[-1]
        assert last.rule == "internal-error"
        assert last.description is not None
        assert "boom" in last.description
        log = httpx.get(f"{simulator.base_url}/_sim/requests").json()["requests"]
        assert log[-1]["rule"] == "internal-error"
