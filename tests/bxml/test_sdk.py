"""What the official SDK (bandwidth-sdk, newest release) emits validates: every verb with every
attribute, and every value the grammar enumerates for an attribute (methods, flags, voices ...),
each written by the SDK itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

bxml = pytest.importorskip("bandwidth.models.bxml")

from conformance.bxml import VERBS, is_valid, iter_errors  # noqa: E402
from conformance.bxml.grammar import grammar  # noqa: E402
from conformance.bxml.values import LOCALES  # noqa: E402

URL = "https://app.example.net/callbacks/event"
CALL_ID = "c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
SIP = "sip:agent@pbx.example.net"


def _phone(**kw: Any) -> Any:
    return bxml.PhoneNumber(
        number="+19195550123",
        transfer_answer_url=URL,
        transfer_answer_method="POST",
        transfer_answer_fallback_url=URL,
        transfer_answer_fallback_method="GET",
        transfer_disconnect_url=URL,
        transfer_disconnect_method="POST",
        username="user",
        password="secret",
        fallback_username="user2",
        fallback_password="secret2",
        tag="leg-b",
        uui="eyJhbGciOiJIUzI1NiJ9",
        **kw,
    )


def _sip() -> Any:
    return bxml.SipUri(
        uri=SIP, uui="YmFzZTY0", transfer_answer_url=URL, transfer_disconnect_url=URL, tag="sip-leg"
    )


BUILDERS: dict[str, Callable[[], Any]] = {
    "Bridge": lambda: bxml.Bridge(
        target_call=CALL_ID,
        bridge_complete_url=URL,
        bridge_complete_method="POST",
        bridge_complete_fallback_url=URL,
        bridge_complete_fallback_method="GET",
        bridge_target_complete_url=URL,
        bridge_target_complete_method="POST",
        bridge_target_complete_fallback_url=URL,
        bridge_target_complete_fallback_method="GET",
        username="u",
        password="p",
        fallback_username="fu",
        fallback_password="fp",
        tag="bridging",
    ),
    "Conference": lambda: bxml.Conference(
        name="sales_team-1",
        mute=False,
        hold=True,
        call_ids_to_coach=CALL_ID,
        conference_event_url=URL,
        conference_event_method="POST",
        conference_event_fallback_url=URL,
        conference_event_fallback_method="GET",
        username="u",
        password="p",
        fallback_username="fu",
        fallback_password="fp",
        tag="conf",
        callback_timeout=10,
    ),
    "Connect": lambda: bxml.Connect(
        destination=[bxml.Endpoint(endpoint_id="e-8b1f2c3d")], event_callback_url=URL, event_fallback_url=URL
    ),
    "Forward": lambda: bxml.Forward(
        to="+19195550100",
        _from="+19195550199",
        call_timeout=30,
        diversion_treatment="stack",
        diversion_reason="user-busy",
        uui="YmFzZTY0",
        privacy=True,
        caller_display_name="Front Desk",
    ),
    "Gather": lambda: bxml.Gather(
        audio_verbs=[bxml.SpeakSentence(text="Say or press one."), bxml.PlayAudio(audio_uri="prompt.wav")],
        gather_url=URL,
        gather_method="POST",
        gather_fallback_url=URL,
        gather_fallback_method="GET",
        username="u",
        password="p",
        fallback_username="fu",
        fallback_password="fp",
        tag="menu",
        terminating_digits="#",
        max_digits=5,
        inter_digit_timeout=5,
        first_digit_timeout=10,
        repeat_count=3,
        input="dtmf_speech",
        hints="sales,support",
        language="en-US",
        partial_result_callback=URL,
        partial_result_callback_method="POST",
        profanity_filter=True,
        speech_model="default",
        speech_timeout=5,
    ),
    "Hangup": lambda: bxml.Hangup(),
    "Pause": lambda: bxml.Pause(duration=2),
    "PauseRecording": lambda: bxml.PauseRecording(),
    "PlayAudio": lambda: bxml.PlayAudio(
        audio_uri="https://media.example.net/a.mp3", username="u", password="p"
    ),
    "Record": lambda: bxml.Record(
        record_complete_url=URL,
        record_complete_method="POST",
        record_complete_fallback_url=URL,
        record_complete_fallback_method="GET",
        recording_available_url=URL,
        recording_available_method="POST",
        transcribe=True,
        transcription_available_url=URL,
        transcription_available_method="POST",
        username="u",
        password="p",
        fallback_username="fu",
        fallback_password="fp",
        tag="rec",
        terminating_digits="#",
        max_duration=600,
        silence_timeout=5,
        file_format="wav",
    ),
    "Redirect": lambda: bxml.Redirect(
        redirect_url=URL,
        redirect_method="GET",
        redirect_fallback_url=URL,
        redirect_fallback_method="POST",
        username="u",
        password="p",
        fallback_username="fu",
        fallback_password="fp",
        tag="moved",
    ),
    "Refer": lambda: bxml.Refer(
        sip_uri=bxml.SipUri(uri=SIP), refer_complete_url=URL, refer_complete_method="POST", tag="r"
    ),
    "ResumeRecording": lambda: bxml.ResumeRecording(),
    "Ring": lambda: bxml.Ring(duration=5, answer_call=False),
    "SendDtmf": lambda: bxml.SendDtmf(digits="12w34#", tone_duration=200, tone_interval=400),
    "SpeakSentence": lambda: bxml.SpeakSentence(
        text='Hello <break time="1s"/> <emphasis level="moderate">there</emphasis>',
        voice="julie",
        gender="female",
        locale="en_US",
    ),
    "StartGather": lambda: bxml.StartGather(
        dtmf_url=URL, dtmf_method="POST", username="u", password="p", tag="g"
    ),
    "StartRecording": lambda: bxml.StartRecording(
        recording_available_url=URL,
        recording_available_method="POST",
        transcribe=True,
        transcription_available_url=URL,
        transcription_available_method="POST",
        username="u",
        password="p",
        tag="rec",
        file_format="mp3",
        multi_channel=True,
        detect_language=True,
        recording_name="call-42",
    ),
    "StartStream": lambda: bxml.StartStream(
        destination="wss://stream.example.net/in",
        destination_username="su",
        destination_password="sp",
        stream_params=[bxml.StreamParam(name="ticket", value="T-1")],
        name="feed",
        mode="bidirectional",
        tracks="both",
        stream_event_url=URL,
        stream_event_method="POST",
        username="u",
        password="p",
    ),
    "StartTranscription": lambda: bxml.StartTranscription(
        name="notes",
        tracks="inbound",
        transcription_event_url=URL,
        transcription_event_method="POST",
        username="u",
        password="p",
        destination="wss://stt.example.net/in",
        stabilized=True,
        custom_params=[bxml.CustomParam(name="agent", value="42")],
        detect_language=True,
        preferred_languages="en-US,es-US",
    ),
    "StopGather": lambda: bxml.StopGather(),
    "StopRecording": lambda: bxml.StopRecording(),
    "StopStream": lambda: bxml.StopStream(name="feed", wait=True),
    "StopTranscription": lambda: bxml.StopTranscription(name="notes"),
    "Tag": lambda: bxml.Tag(content="billing"),
    "Transfer": lambda: bxml.Transfer(
        transfer_to=[_phone(), _sip()],
        transfer_caller_id="+19195550100",
        transfer_caller_display_name="Support Line",
        call_timeout=45,
        transfer_complete_url=URL,
        transfer_complete_method="POST",
        transfer_complete_fallback_url=URL,
        transfer_complete_fallback_method="GET",
        username="u",
        password="p",
        fallback_username="fu",
        fallback_password="fp",
        tag="xfer",
        diversion_treatment="propagate",
        privacy=False,
    ),
}


def test_every_grammar_verb_has_an_sdk_builder() -> None:
    assert set(BUILDERS) == set(VERBS)


@pytest.mark.parametrize("verb", sorted(BUILDERS))
@pytest.mark.parametrize("root", ["Response", "Bxml"])
def test_sdk_output_validates(verb: str, root: str) -> None:
    document = getattr(bxml, root)([BUILDERS[verb]()]).to_bxml()
    assert f"<{verb}" in document
    assert [str(e) for e in iter_errors(document)] == []


def test_sdk_defaults_and_empty_roots_validate() -> None:
    for document in (
        bxml.Response().to_bxml(),
        bxml.Bxml().to_bxml(),
        bxml.Response([bxml.Pause(), bxml.Record(), bxml.Tag()]).to_bxml(),
    ):
        assert is_valid(document), document


def test_sdk_writes_lowercase_booleans_which_the_grammar_requires() -> None:
    document = bxml.Response([bxml.Ring(answer_call=True)]).to_bxml()
    assert 'answerCall="true"' in document
    assert not is_valid(document.replace('"true"', '"True"'))


def test_sdk_cannot_protect_from_documented_limits() -> None:
    # The SDK builds these without complaint; the grammar rejects them for a named rule.
    too_many = bxml.Transfer(transfer_to=[bxml.PhoneNumber(number=f"+1919555010{i}") for i in range(9)])
    cases = {
        "too-many-children": bxml.Response([too_many]).to_bxml(),
        "too-few-children": bxml.Response([bxml.Transfer()]).to_bxml(),
        "attribute-range": bxml.Response([bxml.Gather(max_digits=51)]).to_bxml(),
        "missing-attribute": bxml.Response([bxml.Forward()]).to_bxml(),
    }
    for rule, document in cases.items():
        assert rule in {e.rule for e in iter_errors(document)}, (rule, document)


# ---- every enumerated value, written by the SDK ----------------------------------------------
WSS = "wss://stream.example.net/in"
#: Required arguments of each SDK class (the values are valid; the attribute under test is added).
MINIMAL: dict[str, dict[str, Any]] = {
    "Bridge": {"target_call": CALL_ID},
    "Conference": {"name": "room-1"},
    "CustomParam": {"name": "k", "value": "v"},
    "Endpoint": {"endpoint_id": "e-1a2b"},
    "Forward": {"to": "+19195550100"},
    "PhoneNumber": {"number": "+19195550123"},
    "PlayAudio": {"audio_uri": "https://media.example.net/a.wav"},
    "Redirect": {"redirect_url": URL},
    "Refer": {"sip_uri": None},  # filled in by _verb
    "SendDtmf": {"digits": "1"},
    "SipUri": {"uri": SIP},
    "SpeakSentence": {"text": "Hello."},
    "StartGather": {"dtmf_url": URL},
    "StartStream": {"destination": WSS},
    "StartTranscription": {"destination": WSS},
    "StopStream": {"name": "feed"},
    "StreamParam": {"name": "k", "value": "v"},
}
#: Child elements and the verb the SDK nests them in.
PARENTS = {
    "PhoneNumber": ("Transfer", "transfer_to"),
    "SipUri": ("Transfer", "transfer_to"),
    "StreamParam": ("StartStream", "stream_params"),
    "CustomParam": ("StartTranscription", "custom_params"),
    "Endpoint": ("Connect", "destination"),
}
#: Enumerated attributes the Python SDK has no argument for (the Node SDK writes them).
NOT_IN_PYTHON_SDK = {("Connect", "connectCompleteMethod"), ("Connect", "connectCompleteFallbackMethod")}


def _argument(attribute: str) -> str:
    return "_from" if attribute == "from" else re.sub(r"(?<!^)([A-Z])", r"_\1", attribute).lower()


def _verb(element: str, **arguments: Any) -> Any:
    kwargs = {**MINIMAL.get(element, {}), **arguments}
    if element == "Refer":
        kwargs["sip_uri"] = bxml.SipUri(uri=SIP)
    if element == "Connect" and "destination" not in kwargs:
        kwargs["destination"] = [bxml.Endpoint(endpoint_id="e-1a2b")]
    if element == "Transfer" and "transfer_to" not in kwargs:
        kwargs["transfer_to"] = [bxml.PhoneNumber(number="+19195550123")]
    node = getattr(bxml, element)(**kwargs)
    if element in PARENTS:
        parent, slot = PARENTS[element]
        return _verb(parent, **{slot: [node]})
    return node


def _enumerated_slots() -> list[tuple[str, str]]:
    g = grammar()
    return sorted(
        (element, attribute.name)
        for element, decl in g.elements.items()
        if element in VERBS or element in PARENTS
        for attribute in decl.attributes
        if attribute.type.enumeration and (element, attribute.name) not in NOT_IN_PYTHON_SDK
    )


def test_the_enumerated_slots_cover_the_grammar() -> None:
    slots = _enumerated_slots()
    assert len(slots) >= 50
    assert {("SpeakSentence", "voice"), ("Gather", "input"), ("StartStream", "tracks")} <= set(slots)


@pytest.mark.parametrize(("element", "attribute"), _enumerated_slots())
def test_sdk_output_validates_for_every_enumerated_value(element: str, attribute: str) -> None:
    decl = grammar().element(element).attribute(attribute)
    assert decl is not None
    for value in decl.type.enumeration:
        written: Any = {"true": True, "false": False}.get(value, value) if decl.type.name == "Flag" else value
        extra = {_argument(attribute): written}
        if attribute == "diversionReason":
            extra["diversion_treatment"] = "stack"  # the reason is used only with stack
        document = bxml.Response([_verb(element, **extra)]).to_bxml()
        assert f'{attribute}="{value}"' in document, document
        assert [str(e) for e in iter_errors(document)] == [], document


def test_sdk_output_validates_for_every_known_locale() -> None:
    for locale in LOCALES:
        document = bxml.Response([bxml.SpeakSentence(text="Hi.", gender="male", locale=locale)]).to_bxml()
        assert [str(e) for e in iter_errors(document)] == [], document
