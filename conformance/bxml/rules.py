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

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

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


def _error(rule: str, element: etree._Element, message: str, path: bool = True) -> BxmlError:
    severity = _SEVERITIES.get(rule, "error")
    where = element_path(element) if path else ""
    return BxmlError(rule=rule, path=where, line=element.sourceline, message=message, severity=severity)


def _errors(rule: str, element: etree._Element, messages: Sequence[str]) -> list[BxmlError]:
    """A tag rule's ``check``: what its finder says about ``element``, as errors with paths."""
    return [_error(rule, element, message) for message in messages]


DocumentFinder = Callable[[etree._Element, str], list[tuple[str, etree._Element]]]


def _document_check(rule: str, find: DocumentFinder) -> Callable[[etree._Element, str], list[BxmlError]]:
    """A document rule's ``check``: what its finder says about the document, as errors with paths."""

    def check(root: etree._Element, context: str) -> list[BxmlError]:
        return [_error(rule, element, message) for message, element in find(root, context)]

    return check


@dataclass(frozen=True)
class Rule:
    """A named rule outside the XSD: ``check`` finds violations, ``repair`` removes them.

    With ``tags``, ``check`` is called for each element of those names (one shared pass over the
    document, which calls the rule's finder in ``_FINDERS``: the same test, giving messages, so
    that the pass builds errors and paths only for what it lists); without, once with the root,
    and only when the root has a child of each name in ``needs`` (without them it can find
    nothing; the shared pass looks for them too).  ``repair`` always takes the root.
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
def _find_context(root: etree._Element, context: str) -> list[tuple[str, etree._Element]]:
    if context == "call":
        return []
    allowed = frozenset(allowed_verbs(context))
    known = frozenset(grammar().verbs)
    return [
        (f"<{verb.tag}> is not allowed in {context} BXML ({CONTEXTS[context]})", verb)
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


def _find_repeat(gather: etree._Element) -> Sequence[str]:
    children = len(gather)  # every child node; the prompts are its elements, never more
    if not children or (children <= MAX_GATHER_PROMPTS and gather.get("repeatCount") is None):
        return ()  # without repeatCount the count is 1 (asked first: most Gathers have none)
    count = _repeat_count(gather)
    if count is None or count * children <= MAX_GATHER_PROMPTS:
        return ()
    prompts = sum(1 for child in gather if isinstance(child.tag, str))
    if count * prompts <= MAX_GATHER_PROMPTS:
        return ()
    return (
        f"repeatCount {count} x {prompts} nested verbs = {count * prompts} prompts; "
        f"at most {MAX_GATHER_PROMPTS} allowed",
    )


def _check_repeat(gather: etree._Element, context: str) -> Iterable[BxmlError]:
    return _errors("repeat-count-limit", gather, _find_repeat(gather))


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
    # Text in the SSML decides before the joined text is built (itertext costs ~4 us): any
    # element's text or tail below ``speak`` is a part of that join, so one that is not all
    # space (str.isspace is what strip() strips) settles it.  The first child's text is asked
    # first: that is where SSML usually starts its words, and indexing is ~5x cheaper than an
    # iterator.
    if len(speak):
        first = speak[0]
        text = first.text if isinstance(first.tag, str) else None
        if text and not text.isspace():
            return False
    for node in speak.iterdescendants():
        if isinstance(node.tag, str):
            text, tail = node.text, node.tail
            if (text and not text.isspace()) or (tail and not tail.isspace()):
                return False
    return not "".join(speak.itertext()).strip()


def _find_speak(speak: etree._Element) -> Sequence[str]:
    text = speak.text  # _blank's first look, here without a call: the usual SpeakSentence starts with text
    if (text and not text.isspace()) or not _blank(speak):
        return ()
    return ("SpeakSentence has no text to speak; it may not be blank",)


def _check_speak(speak: etree._Element, context: str) -> Iterable[BxmlError]:
    return _errors("missing-text", speak, _find_speak(speak))


def _repair_speak(root: etree._Element) -> None:
    for speak in root.iter("SpeakSentence"):
        if _blank(speak):
            speak.text = "Hello." + (speak.text or "")


# ---- diversion-reason-without-stack -------------------------------------------------------
def _find_diversion(element: etree._Element) -> Sequence[str]:
    if element.get("diversionReason") is None or element.get("diversionTreatment") == "stack":
        return ()
    return ('diversionReason is used only with diversionTreatment="stack"',)


def _check_diversion(element: etree._Element, context: str) -> Iterable[BxmlError]:
    return _errors("diversion-reason-without-stack", element, _find_diversion(element))


def _repair_diversion(root: etree._Element) -> None:
    for element in root.iter("Forward", "Transfer"):
        if element.get("diversionReason") is not None:
            element.set("diversionTreatment", "stack")


# ---- stabilized-without-destination -------------------------------------------------------
def _find_stabilized(element: etree._Element) -> Sequence[str]:
    if element.get("stabilized") is None or element.get("destination") is not None:
        return ()
    return ("stabilized applies to a websocket destination; set destination or drop stabilized",)


def _check_stabilized(element: etree._Element, context: str) -> Iterable[BxmlError]:
    return _errors("stabilized-without-destination", element, _find_stabilized(element))


def _repair_stabilized(root: etree._Element) -> None:
    for element in root.iter("StartTranscription"):
        if element.get("destination") is None and "stabilized" in element.attrib:
            del element.attrib["stabilized"]


# ---- credentials-need-https ---------------------------------------------------------------
_CREDENTIALS = ("username", "password", "fallbackUsername", "fallbackPassword")
_CREDENTIALS_SET = frozenset(_CREDENTIALS)
_HTTPS_WITH_CREDENTIALS = ("Record", "StartStream")


def _plain_http_urls(element: etree._Element, names: list[str] | None = None) -> list[str]:
    """The attributes named ``...Url`` whose value is plain http, in document order (``names``:
    ``element.keys()`` when the caller has them).  Only those names' values are read."""
    return [
        name
        for name in (element.keys() if names is None else names)
        if name.endswith("Url") and element.get(name).strip().lower().startswith("http://")
    ]


def _find_https(element: etree._Element) -> Sequence[str]:
    names = element.keys()
    if _CREDENTIALS_SET.isdisjoint(names):  # one call, however many attributes it asks
        return ()
    return [
        f"{name} is plain http but credentials are set; the URLs must be https"
        for name in _plain_http_urls(element, names)
    ]


def _check_https(element: etree._Element, context: str) -> Iterable[BxmlError]:
    return _errors("credentials-need-https", element, _find_https(element))


def _repair_https(root: etree._Element) -> None:
    for element in root.iter(*_HTTPS_WITH_CREDENTIALS):
        if any(element.get(c) is not None for c in _CREDENTIALS):
            for name in _plain_http_urls(element):
                value = element.get(name, "").strip()
                element.set(name, "https://" + value[len("http://") :])


# ---- start-gather-with-forward ------------------------------------------------------------
def _find_forward(root: etree._Element, context: str) -> list[tuple[str, etree._Element]]:
    if next(root.iterchildren("StartGather"), None) is None:  # check_rules asks first (needs)
        return []
    message = "<StartGather> cannot be used with <Forward>"
    return [(message, forward) for forward in root.iterchildren("Forward")]


def _repair_forward(root: etree._Element) -> None:
    if any(True for _ in root.iterchildren("StartGather")):
        for forward in list(root.iterchildren("Forward")):
            root.remove(forward)


CODE_RULES: tuple[Rule, ...] = (
    Rule(
        "context-forbidden",
        "a verb the context does not allow",
        (),
        _document_check("context-forbidden", _find_context),
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
        _document_check("start-gather-with-forward", _find_forward),
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
# Each tag rule's check as the shared pass calls it: the messages alone, the errors built by the
# pass (a path only for those listed).  ``check`` is the same finder with errors and paths.  A
# tag rule without a finder here stops the import (KeyError below), not a run.  Document rules have
# theirs too (the messages with the elements they are about): thousands of forbidden verbs side by
# side would otherwise each get a path, and a path costs time in proportion to the siblings.
_DOCUMENT_FINDERS: dict[str, DocumentFinder] = {
    "context-forbidden": _find_context,
    "start-gather-with-forward": _find_forward,
}
_FINDERS: dict[str, Callable[[etree._Element], Sequence[str]]] = {
    "repeat-count-limit": _find_repeat,
    "missing-text": _find_speak,
    "diversion-reason-without-stack": _find_diversion,
    "stabilized-without-destination": _find_stabilized,
    "credentials-need-https": _find_https,
}
# What the shared pass does with each element it meets: its name's rules with their finders, in
# CODE_RULES order, and whether a document rule needs to know it is a child of the root.
_PASS: dict[object, tuple[tuple[tuple[str, Callable[[etree._Element], Sequence[str]]], ...], bool]] = {
    tag: (tuple((rule.name, _FINDERS[rule.name]) for rule in _BY_TAG.get(tag, ())), tag in _NEEDED)
    for tag in _PASS_TAGS
}
#: A root with at most this many children is walked element by element (cheaper than lxml's tag
#: filter on a small tree); a larger one with the tag filter, which skips other elements in C.
_SMALL_ROOT = 64

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
    thousands of faulty siblings would cost quadratic time.  The pass runs when this is called;
    paths are found as the problems are taken.
    """
    first, later = rule_findings(root, context)
    if not (first or later):
        return iter(())
    return findings_in_order(first, later, with_paths)


#: A problem of a tag rule as the pass finds it: the rule, the message and the element.
Finding = tuple[str, str, etree._Element]


def rule_findings(root: etree._Element, context: str) -> tuple[list[Finding], list[Finding]]:
    """The pass of :func:`check_rules`: the document rules' findings, and the tag rules'.  Both
    lists are empty for a document that breaks no rule, which the validator asks before building
    anything else."""
    later: list[Finding] = []
    children: set[str] = set()  # names in _NEEDED of the root's children
    entry_of = _PASS.get
    for element in root.iter() if len(root) <= _SMALL_ROOT else root.iter(*_PASS_TAGS):
        entry = entry_of(element.tag)
        if entry is not None:
            finders, needed = entry
            if needed and element.getparent() is root:
                children.add(element.tag)
            for rule, find in finders:
                for message in find(element):
                    later.append((rule, message, element))
    first: list[Finding] = []
    for document_rule in _DOCUMENT_RULES:
        if children.issuperset(document_rule.needs):
            name = document_rule.name
            found = _DOCUMENT_FINDERS[name](root, context)
            first.extend((name, message, element) for message, element in found)
    return first, later


def findings_in_order(
    first: list[Finding], later: list[Finding], with_paths: int | None
) -> Iterator[BxmlError]:
    """What :func:`rule_findings` found, in report order (the document rules' first), as errors;
    the first ``with_paths`` (all when ``None``) with their paths, each found as it is taken."""
    for number, (rule, message, element) in enumerate(itertools.chain(first, later)):
        yield _error(rule, element, message, path=with_paths is None or number < with_paths)


def finding_error(finding: Finding) -> BxmlError:
    """A finding of :func:`rule_findings` as an error, with its path."""
    rule, message, element = finding
    return _error(rule, element, message)


def is_error_rule(rule: str) -> bool:
    """Whether problems of ``rule`` are errors (the platform refuses them), not warnings."""
    return _SEVERITIES.get(rule, "error") == "error"
