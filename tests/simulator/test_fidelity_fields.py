"""Fidelity of the simulator's bodies and ids to the official sources (issue 12).

* The contract's response and webhook schemas name exactly the fields of the official SDK's models
  (``bandwidth-sdk`` 23.3.1), so a field the platform documents cannot be missing from the contract.
* For a record with every field set, the simulator's REST bodies carry every field the contract
  names for them: a field the simulator forgot (as conference recordings' ``name`` was) fails here.
* Webhook URLs (``callUrl``, ``mediaUrl``) are the REST URLs under ``/api/v2``, character for
  character, because one function builds both.
* Recording transcription ids are ``t-`` + a UUID (38 characters); real-time ones are 47.
"""

from __future__ import annotations

import re
import uuid
from functools import cache
from typing import Any

import httpx
import pytest

from conformance.resources import load_spec
from conformance.simulator import Simulator
from conformance.simulator.engine import payloads
from conformance.simulator.models import Conference, Recording
from conformance.simulator.store import Store

from .conftest import (
    ACCOUNT,
    create_body,
    seed_call,
    seed_conference,
    seed_realtime,
    seed_transcribed,
)

bandwidth_models = pytest.importorskip("bandwidth.models")

# Contract fields the SDK's models lack, each with the fact behind it (openapi/NOTES.md §3).
_CONTRACT_BEYOND_SDK = {"transferAnswerCallback": {"parentCallId"}}
_TRANSCRIPTION_ID = re.compile(r"^t-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@cache
def _schemas() -> dict[str, Any]:
    spec: Any = load_spec()
    schemas: dict[str, Any] = spec["components"]["schemas"]
    return schemas


def _properties(schema_name: str) -> set[str]:
    return set(_schemas()[schema_name]["properties"])


def _sdk_fields(schema_name: str) -> set[str] | None:
    model = getattr(bandwidth_models, schema_name[0].upper() + schema_name[1:], None)
    fields = getattr(model, "model_fields", None)  # None for enums and for names the SDK lacks
    if fields is None:
        return None
    return {f.alias or name for name, f in fields.items() if name != "additional_properties"}


def test_every_sdk_model_the_contract_shares_has_the_same_fields() -> None:
    compared = 0
    for name, schema in _schemas().items():
        sdk_fields = _sdk_fields(name)
        if sdk_fields is None or "properties" not in schema:
            continue
        compared += 1
        ours = set(schema["properties"]) - _CONTRACT_BEYOND_SDK.get(name, set())
        assert ours == sdk_fields, (
            f"{name}: SDK only {sorted(sdk_fields - ours)}, contract only {sorted(ours - sdk_fields)}"
        )
    # the REST bodies, request bodies and webhooks the SDK models: a renamed model would shrink this
    assert compared >= 40


def _full_recording(store: Store) -> tuple[str, Recording]:
    parent = seed_call(store)
    call = seed_call(store, parent_call_id=parent.call_id)
    rec = seed_transcribed(store, call)
    rec.parent_call_id = parent.call_id
    rec.transfer_caller_id, rec.transfer_to = "+19195550100", "+19195550102"
    return call.call_id, rec


def test_call_recording_metadata_has_every_documented_field(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    call_id, rec = _full_recording(quiet_sim.store)
    base = f"/accounts/{ACCOUNT}/calls/{call_id}/recordings"
    meta = quiet_client.get(f"{base}/{rec.recording_id}").json()
    assert set(meta) == _properties("callRecordingMetadata")
    assert set(meta["transcription"]) == _properties("recordingTranscriptionMetadata")
    assert [set(m) for m in quiet_client.get(base).json()] == [set(meta)]


def _conference_with_recording(store: Store) -> tuple[Conference, Recording]:
    call = seed_call(store)
    conf, rec = seed_conference(store, call, name=f"room-{uuid.uuid4()}")
    conf.tag = "room-tag"
    conf.members[call.call_id].call_ids_to_coach = [call.call_id]
    return conf, rec


def test_conference_recording_metadata_names_the_conference(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    conf, rec = _conference_with_recording(quiet_sim.store)
    base = f"/accounts/{ACCOUNT}/conferences/{conf.id}/recordings"
    meta = quiet_client.get(f"{base}/{rec.recording_id}").json()
    assert set(meta) == _properties("conferenceRecordingMetadata")
    # `name` is the conference's name (official spec and SDK model), `recordingName` the recording's
    assert (meta["name"], meta["recordingName"]) == (conf.name, rec.name)
    assert quiet_client.get(base).json() == [meta]
    # a conference recording without a name of its own still carries its conference's
    rec.name = None
    meta = quiet_client.get(f"{base}/{rec.recording_id}").json()
    assert meta["name"] == conf.name
    assert "recordingName" not in meta


def test_conference_and_member_bodies_have_every_documented_field(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    conf, _ = _conference_with_recording(quiet_sim.store)
    one = quiet_client.get(f"/accounts/{ACCOUNT}/conferences/{conf.id}").json()
    assert set(one) == _properties("conference")
    member = one["activeMembers"][0]
    assert set(member) == _properties("conferenceMember")
    listed = quiet_client.get(f"/accounts/{ACCOUNT}/conferences", params={"name": conf.name}).json()
    assert set(listed[0]) == _properties("conference") - {"activeMembers"}  # the list leaves members out


def test_call_bodies_have_every_documented_field(quiet_sim: Simulator, quiet_client: httpx.Client) -> None:
    body = create_body(
        tag="t",
        username="u",
        password="p",
        answerFallbackUrl="https://example.test/fb",
        fallbackUsername="fu",
        fallbackPassword="fp",
        disconnectUrl="https://example.test/d",
        priority=1,
    )
    created = quiet_client.post(f"/accounts/{ACCOUNT}/calls", json=body).json()
    assert set(created) == _properties("createCallResponse")
    state = quiet_client.get(f"/accounts/{ACCOUNT}/calls/{created['callId']}").json()
    assert set(state) == _properties("callState")


def test_realtime_transcription_bodies_have_every_documented_field(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    call = seed_call(quiet_sim.store)
    t = seed_realtime(quiet_sim.store, call)
    base = f"/accounts/{ACCOUNT}/calls/{call.call_id}/transcriptions"
    listed = quiet_client.get(base).json()
    assert [set(x) for x in listed] == [_properties("callTranscriptionMetadata")]
    one = quiet_client.get(f"{base}/{t.transcription_id}").json()
    assert set(one) == _properties("callTranscriptionResponse")
    assert set(one["tracks"][0]) == _properties("callTranscription")


# ------------------------------------------------------------------------------------------ URLs
def test_webhook_urls_are_the_rest_urls_under_api_v2(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    created = quiet_client.post(f"/api/v2/accounts/{ACCOUNT}/calls", json=create_body())
    assert created.status_code == 201
    call = quiet_sim.store.call(created.json()["callId"])
    assert call is not None
    origin = quiet_sim.base_url  # what the engine knows: the server's origin, no prefix
    hook = payloads.call_fields(call, origin, quiet_sim.store.now())
    assert hook["callUrl"] == created.json()["callUrl"] == created.headers["location"]
    assert hook["callUrl"].startswith(f"{origin}/api/v2/accounts/{ACCOUNT}/calls/")
    # the same with a trailing slash on the origin, or an origin that already has the prefix
    assert (
        payloads.call_url(origin + "/", call)
        == payloads.call_url(origin + "/api/v2", call)
        == hook["callUrl"]
    )

    call_id, rec = _full_recording(quiet_sim.store)
    meta = quiet_client.get(
        f"/api/v2/accounts/{ACCOUNT}/calls/{call_id}/recordings/{rec.recording_id}"
    ).json()
    assert payloads.recording_fields(rec, origin)["mediaUrl"] == meta["mediaUrl"]
    assert quiet_client.get(meta["mediaUrl"]).content == rec.media

    transcription_url = meta["transcription"]["url"]
    assert payloads.transcription_url(origin, rec) == transcription_url
    assert quiet_client.get(transcription_url).status_code == 200

    live = seed_realtime(quiet_sim.store, seed_call(quiet_sim.store))
    listed = quiet_client.get(f"/api/v2/accounts/{ACCOUNT}/calls/{live.call_id}/transcriptions").json()
    hook_url = payloads.realtime_transcription_url(origin, ACCOUNT, live.call_id, live.transcription_id)
    assert [t["transcriptionUrl"] for t in listed] == [hook_url]

    conf, conf_rec = _conference_with_recording(quiet_sim.store)
    url = f"/api/v2/accounts/{ACCOUNT}/conferences/{conf.id}/recordings/{conf_rec.recording_id}"
    conf_meta = quiet_client.get(url).json()
    assert payloads.recording_fields(conf_rec, origin)["mediaUrl"] == conf_meta["mediaUrl"]
    assert quiet_client.get(conf_meta["mediaUrl"]).content == conf_rec.media


# ------------------------------------------------------------------------------------------ ids
def test_recording_transcription_ids_are_t_and_a_uuid(
    quiet_sim: Simulator, quiet_client: httpx.Client
) -> None:
    store = quiet_sim.store
    ids = {store.new_recording_transcription_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(_TRANSCRIPTION_ID.match(i) and len(i) == 38 for i in ids)
    # the real-time kind keeps the 47-character form of the other ids
    assert all(len(store.new_transcription_id()) == 47 for _ in range(20))

    call = seed_call(store)
    rec = seed_transcribed(store, call)
    rec.transcription = None
    url = f"/accounts/{ACCOUNT}/calls/{call.call_id}/recordings/{rec.recording_id}"
    asked = quiet_client.post(f"{url}/transcription", json={"callbackUrl": "https://example.test/t"})
    assert asked.status_code == 204
    transcription_id = quiet_client.get(url).json()["transcription"]["id"]
    assert _TRANSCRIPTION_ID.match(transcription_id), transcription_id


def test_sip_call_id_is_on_the_events_that_document_it_once_the_call_started(quiet_sim: Simulator) -> None:
    store = quiet_sim.store
    call = seed_call(store)
    fields = payloads.call_fields(call, quiet_sim.base_url, store.now())
    expected = call.call_id.replace("-", "") + "@sbc.bandwidth.com"  # the official example's form
    events = ("answer", "disconnect", "initiate", "gather", "redirect")
    carried = {name for name in events if payloads.shape(name, fields).get("sipCallId") == expected}
    assert carried == {"answer", "disconnect", "initiate"}
    queued = seed_call(store, state="queued", start_time=None)
    assert "sipCallId" not in payloads.shape("disconnect", payloads.call_fields(queued, "", store.now()))
