"""Documented BXML situations (our own equivalents) validate, with both XSD engines."""

from __future__ import annotations

import pytest
from lxml import etree

from conformance.bxml import is_valid, iter_errors
from conformance.bxml.schema import lxml_schema, xmlschema_schema

from .examples import EXAMPLES, TRANSFER_ANSWER_EXAMPLE


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_documented_example_is_valid_call_bxml(name: str) -> None:
    document = EXAMPLES[name]
    assert list(iter_errors(document)) == []
    tree = etree.fromstring(document.encode()).getroottree()
    assert lxml_schema().validate(tree)
    assert xmlschema_schema().is_valid(tree)


def test_transfer_answer_example_is_valid_in_its_context() -> None:
    assert is_valid(TRANSFER_ANSWER_EXAMPLE, "transferAnswer")


def test_examples_cover_every_documented_verb() -> None:
    used = set()
    for document in EXAMPLES.values():
        used.update(e.tag for e in etree.fromstring(document.encode()).iter() if isinstance(e.tag, str))
    documented = {
        "Bridge", "Conference", "Forward", "Gather", "Hangup", "Pause", "PauseRecording", "PlayAudio",
        "Record", "Redirect", "ResumeRecording", "Ring", "SendDtmf", "SpeakSentence", "StartGather",
        "StartRecording", "StartStream", "StartTranscription", "StopGather", "StopRecording",
        "StopStream", "StopTranscription", "Tag", "Transfer", "PhoneNumber", "SipUri", "StreamParam",
        "CustomParam",
    }  # fmt: skip
    assert documented <= used
