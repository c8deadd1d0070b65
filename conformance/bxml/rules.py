"""The BXML rules XSD 1.0 cannot say, each with its own name, beside the grammar.

Each :class:`Rule` can ``check`` a parsed document and ``repair`` a generated one; the
hypothesis strategies call ``repair`` so that what they generate obeys exactly the rules the
validator enforces (one definition, two uses).  Parse-level rules (size, encoding, DTD, depth)
live in :mod:`conformance.bxml.parsing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlError, UnknownContextError
from conformance.bxml.grammar import grammar
from conformance.bxml.parsing import element_path

__all__ = [
    "CODE_RULES",
    "CONTEXTS",
    "MAX_GATHER_PROMPTS",
    "Rule",
    "allowed_verbs",
    "check_context",
    "check_rules",
]

#: Most prompts a Gather may play: repeatCount x nested verbs.
MAX_GATHER_PROMPTS = 20

_CONFERENCE_VERBS = frozenset(
    {"PlayAudio", "SpeakSentence", "StartRecording", "StopRecording", "PauseRecording", "ResumeRecording"}
)
_NOT_IN_TRANSFER_ANSWER = frozenset({"Bridge", "Conference", "Forward", "Transfer"})

#: Context name -> what it is for.  ``call``: every verb.  ``conference``: BXML answering a
#: conference webhook or sent to a conference (audio and recording verbs only).
#: ``transferAnswer``: BXML run on the B-leg before it is bridged (no call-joining verbs).
CONTEXTS: dict[str, str] = {
    "call": "BXML answering a call webhook: every verb",
    "conference": "conference BXML: only " + ", ".join(sorted(_CONFERENCE_VERBS)),
    "transferAnswer": "transferAnswer BXML: no " + ", ".join(sorted(_NOT_IN_TRANSFER_ANSWER)),
}


def check_context(context: str) -> str:
    """Return ``context`` if it is known, else raise :class:`UnknownContextError`."""
    if context not in CONTEXTS:
        known = ", ".join(CONTEXTS)
        raise UnknownContextError(f"unknown BXML context {context!r} (known: {known})")
    return context


def allowed_verbs(context: str) -> tuple[str, ...]:
    """Verbs a root may hold in ``context``, in grammar order."""
    check_context(context)
    verbs = grammar().verbs
    if context == "conference":
        return tuple(v for v in verbs if v in _CONFERENCE_VERBS)
    if context == "transferAnswer":
        return tuple(v for v in verbs if v not in _NOT_IN_TRANSFER_ANSWER)
    return verbs


def _error(rule: str, element: etree._Element, message: str) -> BxmlError:
    return BxmlError(rule=rule, path=element_path(element), line=element.sourceline, message=message)


@dataclass(frozen=True)
class Rule:
    """A named rule outside the XSD: ``check`` finds violations, ``repair`` removes them.

    With ``tags``, ``check`` is called for each element of those names (one shared pass over the
    document); without, once with the root.  ``repair`` always takes the root.
    """

    name: str
    description: str
    tags: tuple[str, ...]
    check: Callable[[etree._Element, str], Iterable[BxmlError]]
    repair: Callable[[etree._Element], None]


# ---- context-forbidden --------------------------------------------------------------------
def _check_context(root: etree._Element, context: str) -> Iterator[BxmlError]:
    if context == "call":
        return
    allowed = frozenset(allowed_verbs(context))
    known = frozenset(grammar().verbs)
    for verb in root:
        if verb.tag in known and verb.tag not in allowed:
            yield _error(
                "context-forbidden",
                verb,
                f"<{verb.tag}> is not allowed in {context} BXML ({CONTEXTS[context]})",
            )


def _no_repair(root: etree._Element) -> None:
    """Nothing to repair: generators only choose verbs the context allows."""


# ---- repeat-count-limit -------------------------------------------------------------------
def _repeat_count(gather: etree._Element) -> int | None:
    raw = gather.get("repeatCount", "1").strip()
    return int(raw) if raw.isdigit() else None


def _check_repeat(gather: etree._Element, context: str) -> Iterator[BxmlError]:
    count = _repeat_count(gather)
    prompts = sum(1 for child in gather if isinstance(child.tag, str))
    if count is not None and count * prompts > MAX_GATHER_PROMPTS:
        yield _error(
            "repeat-count-limit",
            gather,
            f"repeatCount {count} x {prompts} nested verbs = {count * prompts} prompts; "
            f"at most {MAX_GATHER_PROMPTS} allowed",
        )


def _repair_repeat(root: etree._Element) -> None:
    for gather in root.iter("Gather"):
        prompts = [child for child in gather if isinstance(child.tag, str)]
        for extra in prompts[MAX_GATHER_PROMPTS:]:
            gather.remove(extra)
        count = _repeat_count(gather)
        kept = min(len(prompts), MAX_GATHER_PROMPTS)
        if count is not None and kept and count * kept > MAX_GATHER_PROMPTS:
            gather.set("repeatCount", str(MAX_GATHER_PROMPTS // kept))


# ---- missing-text (SpeakSentence) ---------------------------------------------------------
def _blank(speak: etree._Element) -> bool:
    text = speak.text
    if text and not text.isspace():
        return False
    return not "".join(speak.itertext()).strip()


def _check_speak(speak: etree._Element, context: str) -> Iterable[BxmlError]:
    if not _blank(speak):
        return ()
    return (_error("missing-text", speak, "SpeakSentence has no text to speak; it may not be blank"),)


def _repair_speak(root: etree._Element) -> None:
    for speak in root.iter("SpeakSentence"):
        if _blank(speak):
            speak.text = "Hello." + (speak.text or "")


# ---- diversion-reason-without-stack -------------------------------------------------------
def _check_diversion(element: etree._Element, context: str) -> Iterable[BxmlError]:
    if element.get("diversionReason") is None or element.get("diversionTreatment") == "stack":
        return ()
    message = 'diversionReason is used only with diversionTreatment="stack"'
    return (_error("diversion-reason-without-stack", element, message),)


def _repair_diversion(root: etree._Element) -> None:
    for element in root.iter("Forward", "Transfer"):
        if element.get("diversionReason") is not None:
            element.set("diversionTreatment", "stack")


# ---- stabilized-without-destination -------------------------------------------------------
def _check_stabilized(element: etree._Element, context: str) -> Iterator[BxmlError]:
    if element.get("stabilized") is not None and element.get("destination") is None:
        yield _error(
            "stabilized-without-destination",
            element,
            "stabilized applies to a websocket destination; set destination or drop stabilized",
        )


def _repair_stabilized(root: etree._Element) -> None:
    for element in root.iter("StartTranscription"):
        if element.get("destination") is None and "stabilized" in element.attrib:
            del element.attrib["stabilized"]


# ---- credentials-need-https ---------------------------------------------------------------
_CREDENTIALS = ("username", "password", "fallbackUsername", "fallbackPassword")
_HTTPS_WITH_CREDENTIALS = ("Record", "StartStream")


def _plain_http_urls(element: etree._Element) -> list[str]:
    return [
        name
        for name, value in element.attrib.items()
        if isinstance(name, str) and name.endswith("Url") and value.strip().lower().startswith("http://")
    ]


def _check_https(element: etree._Element, context: str) -> Iterable[BxmlError]:
    if all(element.get(c) is None for c in _CREDENTIALS):
        return ()
    return [
        _error(
            "credentials-need-https",
            element,
            f"{name} is plain http but credentials are set; the URLs must be https",
        )
        for name in _plain_http_urls(element)
    ]


def _repair_https(root: etree._Element) -> None:
    for element in root.iter(*_HTTPS_WITH_CREDENTIALS):
        if any(element.get(c) is not None for c in _CREDENTIALS):
            for name in _plain_http_urls(element):
                value = element.get(name, "").strip()
                element.set(name, "https://" + value[len("http://") :])


# ---- start-gather-with-forward ------------------------------------------------------------
def _check_forward(root: etree._Element, context: str) -> Iterator[BxmlError]:
    if any(True for _ in root.iterchildren("StartGather")):
        for forward in root.iterchildren("Forward"):
            yield _error("start-gather-with-forward", forward, "<StartGather> cannot be used with <Forward>")


def _repair_forward(root: etree._Element) -> None:
    if any(True for _ in root.iterchildren("StartGather")):
        for forward in list(root.iterchildren("Forward")):
            root.remove(forward)


CODE_RULES: tuple[Rule, ...] = (
    Rule("context-forbidden", "a verb the context does not allow", (), _check_context, _no_repair),
    Rule(
        "repeat-count-limit",
        "Gather repeatCount x nested verbs <= 20",
        ("Gather",),
        _check_repeat,
        _repair_repeat,
    ),
    Rule("missing-text", "SpeakSentence may not be blank", ("SpeakSentence",), _check_speak, _repair_speak),
    Rule(
        "diversion-reason-without-stack",
        "diversionReason only with diversionTreatment=stack",
        ("Forward", "Transfer"),
        _check_diversion,
        _repair_diversion,
    ),
    Rule(
        "stabilized-without-destination",
        "StartTranscription stabilized requires destination",
        ("StartTranscription",),
        _check_stabilized,
        _repair_stabilized,
    ),
    Rule(
        "credentials-need-https",
        "Record/StartStream URLs must be https when credentials are set",
        _HTTPS_WITH_CREDENTIALS,
        _check_https,
        _repair_https,
    ),
    Rule(
        "start-gather-with-forward",
        "StartGather cannot be used with Forward",
        (),
        _check_forward,
        _repair_forward,
    ),
)
_DOCUMENT_RULES = tuple(rule for rule in CODE_RULES if not rule.tags)
_BY_TAG: dict[str, tuple[Rule, ...]] = {}
for _rule in CODE_RULES:
    for _tag in _rule.tags:
        _BY_TAG[_tag] = (*_BY_TAG.get(_tag, ()), _rule)
_TAGS = tuple(_BY_TAG)


def check_rules(root: etree._Element, context: str) -> Iterator[BxmlError]:
    """Every code-rule violation in the parsed document ``root``: one pass over the elements."""
    for rule in _DOCUMENT_RULES:
        yield from rule.check(root, context)
    for element in root.iter(*_TAGS):
        for rule in _BY_TAG[element.tag]:
            found = rule.check(element, context)
            if found:
                yield from found
