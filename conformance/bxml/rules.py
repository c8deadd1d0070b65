"""The BXML rules XSD 1.0 cannot say, each with its own name, beside the grammar; and the table
of every rule's severity with the fact behind it (:data:`RULE_TABLE`).

Each :class:`Rule` can ``check`` a parsed document and ``repair`` a generated one; the
hypothesis strategies call ``repair`` so that what they generate obeys exactly the rules the
validator checks (one definition, two uses).  Parse-level rules (size, encoding, DTD, depth)
live in :mod:`conformance.bxml.parsing`, grammar rules in ``xsd/bxml.xsd``.

Severity: ``error`` when a fact says the platform refuses such a document (or when it is a
safety limit of this project, which the simulator enforces), ``warning`` otherwise: a rule
without a fact that the platform rejects is a warning.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlError, Severity, UnknownContextError
from conformance.bxml.grammar import grammar
from conformance.bxml.parsing import MAX_CHILDREN, MAX_DEPTH, element_path

__all__ = [
    "CODE_RULES",
    "CONTEXTS",
    "MAX_GATHER_PROMPTS",
    "PROJECT_LIMITS",
    "RULE_TABLE",
    "WARNING_RULES",
    "Rule",
    "RuleFact",
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


# Where the facts come from (see /work/shared/reference/bandwidth-voice-facts.md, section 4).
_DOCS = "https://dev.bandwidth.com/docs/voice/bxml/"
_SAFETY = "project safety limit (the simulator refuses it; the platform's own limit is not documented)"


@dataclass(frozen=True)
class RuleFact:
    """A rule's severity and the fact it rests on (a documentation quote and page, or a project
    safety limit)."""

    name: str
    severity: Severity
    fact: str


#: Parse-level and grammar rules (checked in parsing.py and by the XSD), in report order.
_PARSE_AND_GRAMMAR: tuple[RuleFact, ...] = (
    RuleFact("document-too-large", "error", f'"Maximum document size is 64 KB" ({_DOCS})'),
    RuleFact(
        "invalid-encoding",
        "error",
        "BXML is UTF-8 (every documented example and SDK); other encodings are refused so that the DTD "
        "ban holds on what the parser sees: " + _SAFETY,
    ),
    RuleFact("forbidden-dtd", "error", "no DTD or entity in BXML: " + _SAFETY),
    RuleFact("malformed-xml", "error", "BXML is XML; a document that is not well-formed cannot be read"),
    RuleFact("too-deep", "error", f"at most {MAX_DEPTH} levels of elements: " + _SAFETY),
    RuleFact("wrong-root", "error", f'"The root element is <Response>" (SDKs also emit <Bxml>) ({_DOCS})'),
    *(
        RuleFact(name, "error", f"the verb's page ({_DOCS}<verb>) as written in xsd/bxml.xsd")
        for name in (
            "unknown-element",
            "forbidden-child",
            "too-few-children",
            "unexpected-text",
            "unknown-attribute",
            "missing-attribute",
            "attribute-value",
            "attribute-range",
        )
    ),
    RuleFact(
        "too-many-children",
        "error",
        f"the verb's page ({_DOCS}<verb>) as written in xsd/bxml.xsd; and, below the root, at most "
        f"{MAX_CHILDREN} child elements of any element (project safety limit: time per error grows with "
        "the siblings)",
    ),
    RuleFact(
        "missing-text",
        "error",
        f'text-carrying verbs need their text; SpeakSentence\'s "cannot be blank" ({_DOCS}speakSentence)',
    ),
    RuleFact("text-value", "error", f"the verb's page ({_DOCS}<verb>) as written in xsd/bxml.xsd"),
)


_pass = threading.local()  # pass.pathless: check_rules fills in the paths it lists (see there)


def _error(rule: str, element: etree._Element, message: str) -> BxmlError:
    severity = _SEVERITIES.get(rule, "error")
    path = "" if getattr(_pass, "pathless", False) else element_path(element)
    return BxmlError(rule=rule, path=path, line=element.sourceline, message=message, severity=severity)


@dataclass(frozen=True)
class Rule:
    """A named rule outside the XSD: ``check`` finds violations, ``repair`` removes them.

    With ``tags``, ``check`` is called for each element of those names (one shared pass over the
    document); without, once with the root, and only when the root has a child of each name in
    ``needs`` (without them it can find nothing; the shared pass looks for them too).  ``repair``
    always takes the root.
    """

    name: str
    description: str
    tags: tuple[str, ...]
    check: Callable[[etree._Element, str], Iterable[BxmlError]]
    repair: Callable[[etree._Element], None]
    severity: Severity
    fact: str
    needs: tuple[str, ...] = ()


# ---- context-forbidden --------------------------------------------------------------------
def _check_context(root: etree._Element, context: str) -> Iterable[BxmlError]:
    if context == "call":
        return ()
    allowed = frozenset(allowed_verbs(context))
    known = frozenset(grammar().verbs)
    return [
        _error(
            "context-forbidden", verb, f"<{verb.tag}> is not allowed in {context} BXML ({CONTEXTS[context]})"
        )
        for verb in root
        if verb.tag in known and verb.tag not in allowed
    ]


def _no_repair(root: etree._Element) -> None:
    """Nothing to repair: generators only choose verbs the context allows."""


# ---- repeat-count-limit -------------------------------------------------------------------
_DIGITS = re.compile(r"[0-9]+")


def _repeat_count(gather: etree._Element) -> int | None:
    """The repeatCount as a number, ``None`` when it is not one (the XSD says so).  A count of
    more than 9 digits is far over any limit: it is not converted (Python refuses to turn more
    than 4,300 digits into an int, and converting thousands costs time)."""
    raw = gather.get("repeatCount", "1").strip()
    if _DIGITS.fullmatch(raw) is None:
        return None
    digits = raw.lstrip("0") or "0"
    return int(digits) if len(digits) <= 9 else 10**9


def _check_repeat(gather: etree._Element, context: str) -> Iterable[BxmlError]:
    children = len(gather)  # every child node; the prompts are its elements, never more
    if not children:
        return ()
    count = _repeat_count(gather)
    if count is None or count * children <= MAX_GATHER_PROMPTS:
        return ()
    prompts = sum(1 for child in gather if isinstance(child.tag, str))
    if count * prompts <= MAX_GATHER_PROMPTS:
        return ()
    message = (
        f"repeatCount {count} x {prompts} nested verbs = {count * prompts} prompts; "
        f"at most {MAX_GATHER_PROMPTS} allowed"
    )
    return (_error("repeat-count-limit", gather, message),)


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
def _check_stabilized(element: etree._Element, context: str) -> Iterable[BxmlError]:
    if element.get("stabilized") is None or element.get("destination") is not None:
        return ()
    message = "stabilized applies to a websocket destination; set destination or drop stabilized"
    return (_error("stabilized-without-destination", element, message),)


def _repair_stabilized(root: etree._Element) -> None:
    for element in root.iter("StartTranscription"):
        if element.get("destination") is None and "stabilized" in element.attrib:
            del element.attrib["stabilized"]


# ---- credentials-need-https ---------------------------------------------------------------
_CREDENTIALS = ("username", "password", "fallbackUsername", "fallbackPassword")
_CREDENTIALS_SET = frozenset(_CREDENTIALS)
_HTTPS_WITH_CREDENTIALS = ("Record", "StartStream")


def _plain_http_urls(element: etree._Element) -> list[str]:
    return [
        name
        for name, value in element.attrib.items()
        if isinstance(name, str) and name.endswith("Url") and value.strip().lower().startswith("http://")
    ]


def _check_https(element: etree._Element, context: str) -> Iterable[BxmlError]:
    if _CREDENTIALS_SET.isdisjoint(element.keys()):  # one call, however many attributes it asks
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
def _check_forward(root: etree._Element, context: str) -> Iterable[BxmlError]:
    if next(root.iterchildren("StartGather"), None) is None:  # check_rules asks first (needs)
        return ()
    message = "<StartGather> cannot be used with <Forward>"
    return [_error("start-gather-with-forward", forward, message) for forward in root.iterchildren("Forward")]


def _repair_forward(root: etree._Element) -> None:
    if any(True for _ in root.iterchildren("StartGather")):
        for forward in list(root.iterchildren("Forward")):
            root.remove(forward)


CODE_RULES: tuple[Rule, ...] = (
    Rule(
        "context-forbidden",
        "a verb the context does not allow",
        (),
        _check_context,
        _no_repair,
        "error",
        f'conference BXML: "BXML containing unsupported verbs will be rejected completely"; transferAnswer '
        f"BXML may not contain Bridge, Conference, Forward or Transfer ({_DOCS}conference, "
        "https://dev.bandwidth.com/docs/voice/webhooks/transferAnswer)",
    ),
    Rule(
        "repeat-count-limit",
        "Gather repeatCount x nested verbs <= 20",
        ("Gather",),
        _check_repeat,
        _repair_repeat,
        "error",
        f'Gather: "repeatCount x number of nested verbs <= 20" ({_DOCS}gather)',
    ),
    Rule(
        "missing-text",
        "SpeakSentence may not be blank",
        ("SpeakSentence",),
        _check_speak,
        _repair_speak,
        "error",
        f'SpeakSentence: the text to speak "cannot be blank" ({_DOCS}speakSentence)',
    ),
    Rule(
        "diversion-reason-without-stack",
        "diversionReason only with diversionTreatment=stack",
        ("Forward", "Transfer"),
        _check_diversion,
        _repair_diversion,
        "warning",
        f'the reason "is considered only when diversionTreatment is set to stack", so it is ignored '
        f"otherwise, not refused; the Java SDK sets both by default ({_DOCS}forward, transfer)",
    ),
    Rule(
        "stabilized-without-destination",
        "StartTranscription stabilized requires destination",
        ("StartTranscription",),
        _check_stabilized,
        _repair_stabilized,
        "warning",
        f'stabilized (default true) "requires destination", yet destination is optional, so a '
        f"StartTranscription without destination is accepted with stabilized at its default; no "
        f"fact says an explicit value is refused ({_DOCS}startTranscription)",
    ),
    Rule(
        "credentials-need-https",
        "Record/StartStream URLs must be https when credentials are set",
        _HTTPS_WITH_CREDENTIALS,
        _check_https,
        _repair_https,
        "warning",
        f'"If specified, the URLs must be TLS-encrypted (https)": a requirement on the app, with no '
        f"fact that the document is refused ({_DOCS}record, startStream)",
    ),
    Rule(
        "start-gather-with-forward",
        "StartGather cannot be used with Forward",
        (),
        _check_forward,
        _repair_forward,
        "warning",
        f'StartGather "cannot be used with <Forward>": no fact says the document is refused rather '
        f"than the gather not running during the forward ({_DOCS}startGather)",
        ("StartGather", "Forward"),
    ),
)
_DOCUMENT_RULES = tuple(rule for rule in CODE_RULES if not rule.tags)
_BY_TAG: dict[str, tuple[Rule, ...]] = {}
for _rule in CODE_RULES:
    for _tag in _rule.tags:
        _BY_TAG[_tag] = (*_BY_TAG.get(_tag, ()), _rule)
_TAGS = tuple(_BY_TAG)
_NEEDED = frozenset(name for rule in _DOCUMENT_RULES for name in rule.needs)
_PASS_TAGS = (*_TAGS, *sorted(_NEEDED - set(_TAGS)))

#: Every rule the validator can report, in report order, with its severity and fact.
#: ``too-many-problems`` closes a list cut at :data:`conformance.bxml.validator.MAX_REPORTED`.
RULE_TABLE: tuple[RuleFact, ...] = (
    *_PARSE_AND_GRAMMAR,
    *(RuleFact(rule.name, rule.severity, rule.fact) for rule in CODE_RULES if rule.name != "missing-text"),
    RuleFact(
        "too-many-problems",
        "error",
        "the list of problems is cut after the first ones so that validation takes bounded time: "
        + _SAFETY.split(" (")[0],
    ),
)
_SEVERITIES: dict[str, Severity] = {fact.name: fact.severity for fact in RULE_TABLE}
#: Rules whose problems are warnings: the platform accepts the document.
WARNING_RULES: frozenset[str] = frozenset(name for name, sev in _SEVERITIES.items() if sev == "warning")
#: Error rules that are safety limits of this project, not documented refusals of the platform:
#: the simulator and the validator refuse such documents, a conformance suite does not demand that
#: a real target does.
PROJECT_LIMITS: frozenset[str] = frozenset(fact.name for fact in RULE_TABLE if _SAFETY in fact.fact)


def check_rules(root: etree._Element, context: str, with_paths: int | None = None) -> Iterator[BxmlError]:
    """Every code-rule violation in the parsed document ``root``: one pass over the elements.

    The document rules' problems come first, then the others in document order.  With
    ``with_paths``, only that many problems are sure to carry their path (the rest are only
    counted by the validator): a path costs time in proportion to the element's siblings, so
    thousands of faulty siblings would cost quadratic time.
    """
    later: list[tuple[BxmlError, etree._Element]] = []
    children: set[str] = set()  # names in _NEEDED of the root's children
    _pass.pathless = with_paths is not None  # the pass below never yields, so it is set only here
    try:
        for element in root.iter(*_PASS_TAGS):
            tag = element.tag
            if tag in _NEEDED and element.getparent() is root:
                children.add(tag)
            for rule in _BY_TAG.get(tag, ()):
                found = rule.check(element, context)
                if found:  # a rule with tags reports on the element it is given
                    later.extend((error, element) for error in found)
    finally:
        _pass.pathless = False
    for rule in _DOCUMENT_RULES:
        if children.issuperset(rule.needs):
            yield from rule.check(root, context)
    for number, (error, element) in enumerate(later):
        if with_paths is not None and number < with_paths:
            error = replace(error, path=element_path(element))
        yield error
