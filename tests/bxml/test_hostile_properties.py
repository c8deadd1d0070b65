"""The hostile space, generated: whatever the bytes, encoding, DOCTYPE, entities, nesting or size,
the validator answers with named problems or acceptance, opens nothing, and lists a bounded number
of problems.  (Time is measured in bench/bxml.py, not asserted here.)"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from conformance.bxml import MAX_DOCUMENT_BYTES, RULES, BxmlError, first_blocking_error, is_valid, parse
from conformance.bxml.parsing import MAX_DEPTH
from conformance.bxml.schema import lxml_schema
from conformance.bxml.strategies import root_elements, serialise
from conformance.bxml.validator import MAX_REPORTED, iter_problems
from conformance.cli import main

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
PARSE_RULES = {"document-too-large", "invalid-encoding", "forbidden-dtd", "malformed-xml", "too-deep"}
ENCODINGS = (
    "utf-8",
    "utf-8-sig",
    "utf-16-le",
    "utf-16-be",
    "utf-16",
    "utf-32-le",
    "utf-32-be",
    "utf-32",
    "cp500",
)
SPOT = "/tmp/bw-conformance-never-opened"  # a name only: the documents point at it


def _named(document: str | bytes) -> list[BxmlError]:
    """Every problem, checked to be a named one (any exception fails the test)."""
    problems = list(iter_problems(document))
    assert all(isinstance(p, BxmlError) and p.rule in RULES for p in problems), problems
    assert len(problems) <= MAX_REPORTED + 1
    first = first_blocking_error(document)
    assert (first is None) is is_valid(document)
    return problems


# ---- arbitrary bytes and text --------------------------------------------------------------------
@HOSTILE
@given(st.binary(max_size=2048))
def test_any_bytes_give_named_problems_or_acceptance(data: bytes) -> None:
    _named(data)
    _named(b"<Response>" + data + b"</Response>")


@HOSTILE
@given(st.text(max_size=512))
def test_any_text_including_lone_surrogates_and_nul(text: str) -> None:
    problems = _named("<Response><Tag>" + text + "</Tag></Response>")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text) or "\x00" in text:
        assert [p.rule for p in problems] == ["invalid-encoding"]


# ---- generated documents made hostile ------------------------------------------------------------
DOCTYPES = (
    f'<!DOCTYPE Response SYSTEM "file://{SPOT}">',
    f'<!DOCTYPE Response [<!ENTITY x SYSTEM "file://{SPOT}">]>',
    f'<!DOCTYPE Response [<!ENTITY % p SYSTEM "file://{SPOT}"> %p;]>',
    '<!DOCTYPE Response PUBLIC "-//X//Y" "http://127.0.0.1:9/x.dtd">',
    '<!DOCTYPE Response [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    "<!DOCTYPE Response>",
)


@st.composite
def hostile_documents(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """A generated document, then: maybe a DOCTYPE (or one hidden in a comment), an entity
    reference, deep nesting, many attributes or children, padding to around 64 KB, and an
    encoding with or without byte-order mark or declaration."""
    root = draw(root_elements(max_verbs=3))
    facts: dict[str, Any] = {}
    if draw(st.booleans()):
        node = root
        for _ in range(draw(st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3))):
            node = etree.SubElement(node, "s")
        facts["depth"] = sum(1 for _ in node.iterancestors()) + 1
    if draw(st.booleans()):
        target = draw(st.sampled_from([root, *root.iter()]))
        for number in range(draw(st.integers(0, 300))):
            target.set(f"z{number}", "1")
    if draw(st.booleans()):
        for _ in range(draw(st.integers(0, 400))):
            etree.SubElement(root, draw(st.sampled_from(["Hangup", "Pause", "Nope"])))
    body = serialise(root, declaration=False)
    if draw(st.booleans()):
        body = body.replace(">", ">&x;", 1)
    doctype = draw(st.sampled_from(("", "", *DOCTYPES)))
    hidden = draw(st.sampled_from(("", "<!-- <!DOCTYPE Response> -->", "")))
    encoding = draw(st.sampled_from(ENCODINGS))
    declared = draw(st.sampled_from((None, encoding.removesuffix("-sig"), "UTF-8")))
    head = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    text = head + doctype + hidden + body
    pad = draw(st.sampled_from((0, 0, MAX_DOCUMENT_BYTES - 300, MAX_DOCUMENT_BYTES - len(text.encode()) + 1)))
    if pad > 0:
        text = head + doctype + hidden + "<!--" + "p" * pad + "-->" + body
    facts.update(doctype=bool(doctype), encoding=encoding, declared=declared)
    return text.encode(encoding, "replace"), facts


@HOSTILE
@given(hostile_documents())
def test_hostile_documents_are_refused_by_name_never_read(case: tuple[bytes, dict[str, Any]]) -> None:
    data, facts = case
    rules = [p.rule for p in _named(data)]
    if len(data) > MAX_DOCUMENT_BYTES:
        assert rules == ["document-too-large"]
    elif facts["encoding"] not in ("utf-8", "utf-8-sig") or facts["declared"] not in (None, "utf-8", "UTF-8"):
        assert rules == ["invalid-encoding"]
    elif facts["doctype"]:
        assert rules == ["forbidden-dtd"]
    elif rules and rules[0] in PARSE_RULES:
        assert len(rules) == 1
    if not rules or rules[0] not in PARSE_RULES:
        assert facts.get("depth", 0) <= MAX_DEPTH


# ---- nothing is opened or fetched --------------------------------------------------------------
_WATCHED: list[tuple[str, tuple[Any, ...]]] = []
_WATCHING = threading.Event()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHING.is_set() and event in ("open", "socket.connect", "urllib.Request", "os.listdir"):
        _WATCHED.append((event, args))


sys.addaudithook(_audit)  # hooks cannot be removed; this one records only while a test watches


@pytest.fixture
def watched() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    _WATCHED.clear()
    _WATCHING.set()
    try:
        yield _WATCHED
    finally:
        _WATCHING.clear()


def _doctype_documents(uri: str) -> list[str]:
    return [
        f'<!DOCTYPE Response SYSTEM "{uri}"><Response/>',
        f'<!DOCTYPE Response [<!ENTITY x SYSTEM "{uri}">]><Response><Tag>&x;</Tag></Response>',
        f'<!DOCTYPE Response [<!ENTITY % p SYSTEM "{uri}"> %p;]><Response/>',
        f'<Response xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{uri}"/></Response>',
        '<Response xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:noNamespaceSchemaLocation="{uri}"><Pause duration="0"/></Response>',
    ]


def _encoded(document: str) -> list[bytes]:
    return [
        document.encode(e) for e in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-16")
    ]


def _run_guarded(fifo: Path, work: Callable[[], object]) -> None:
    """Run ``work`` in a thread; if it is stuck (reading the FIFO), unblock it and fail."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # reported below
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        with open(fifo, "wb"):  # a reader is waiting on the FIFO: release it
            pass
        thread.join(5)
        pytest.fail("validation opened a FIFO named in the document")
    if failure:
        raise failure[0]


def test_documents_naming_files_open_nothing(
    tmp_path: Path, watched: list[tuple[str, tuple[Any, ...]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.bxml import parsing

    asked: list[str] = []
    real_resolve = parsing._Refuser.resolve

    def spy(self: Any, url: str | None, public_id: str | None, context: Any) -> Any:
        asked.append(str(url))
        return real_resolve(self, url, public_id, context)

    monkeypatch.setattr(parsing._Refuser, "resolve", spy)
    fifo = tmp_path / "device"
    os.mkfifo(fifo)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    documents = [
        data
        for target in (fifo, secret, tmp_path / "missing.dtd")
        for document in _doctype_documents(target.as_uri())
        for data in _encoded(document)
    ]

    watched.clear()

    def validate_all() -> None:
        for data in documents:
            problems = _named(data)
            assert all("TOP-SECRET" not in str(p) for p in problems)

    _run_guarded(fifo, validate_all)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert asked == []
    touched = [args for event, args in watched if str(tmp_path) in str(args) or event == "socket.connect"]
    assert touched == []


def test_the_cli_on_documents_naming_files_opens_only_the_files_given(
    tmp_path: Path, watched: list[tuple[str, tuple[Any, ...]]]
) -> None:
    fifo = tmp_path / "device"
    os.mkfifo(fifo)
    files = []
    for number, data in enumerate(_encoded(_doctype_documents(fifo.as_uri())[1])):
        path = tmp_path / f"doc{number}.xml"
        path.write_bytes(data)
        files.append(str(path))
    outcome: list[Any] = []
    _run_guarded(fifo, lambda: outcome.append(CliRunner().invoke(main, ["bxml", "validate", *files])))
    result = outcome[0]
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(files)
    assert all(": forbidden-dtd: " in line or ": invalid-encoding: " in line for line in lines)
    opened = {str(args[0]) for event, args in watched if event == "open" and str(tmp_path) in str(args[0])}
    assert opened == set(files)


# ---- <!DOCTYPE that is not a DOCTYPE ----------------------------------------------------------------
@pytest.mark.parametrize(
    "document",
    [
        "<Response><!-- <!DOCTYPE Response [<!ENTITY x 'y'>]> --><Hangup/></Response>",
        "<!-- <!DOCTYPE Response> --><Response/>",
        "<Response><SpeakSentence><![CDATA[<!DOCTYPE x>]]> hello</SpeakSentence></Response>",
        "<Response><Tag>&lt;!DOCTYPE x&gt;</Tag></Response>",
    ],
)
def test_doctype_text_in_comments_cdata_or_text_is_not_a_dtd(document: str) -> None:
    assert _named(document) == []
    assert parse(document).tag == "Response"


def test_an_entity_reference_is_a_named_error_in_any_encoding() -> None:
    for data in _encoded("<Response><Tag>&x;</Tag></Response>"):
        rules = [p.rule for p in _named(data)]
        assert rules in (["malformed-xml"], ["invalid-encoding"])


# ---- bounded work -------------------------------------------------------------------------------
FLOODS = {
    "unknown attributes": "<Response><Pause" + "".join(f' a{n}="1"' for n in range(5000)) + "/></Response>",
    "bad values": "<Response>" + "<Pause duration='0'/>" * 3000 + "</Response>",
    "text where none goes": "<Response>" + "<Hangup>x</Hangup>" * 3000 + "</Response>",
    "warnings": "<Response>" + "<Forward to='+15551230000' diversionReason='away'/>" * 1200 + "</Response>",
    "gather limits": "<Response>"
    + "<Gather repeatCount='11'><PlayAudio>a</PlayAudio><PlayAudio>b</PlayAudio></Gather>" * 700
    + "</Response>",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FLOODS))
def test_floods_list_at_most_100_problems_and_count_the_rest(name: str) -> None:
    document = FLOODS[name]
    assert len(document.encode()) <= MAX_DOCUMENT_BYTES
    problems = _named(document)
    assert len(problems) == MAX_REPORTED + 1
    summary = problems[-1]
    assert summary.rule == "too-many-problems"
    more = int(summary.message.split()[0])
    assert more > 0
    if name == "warnings":
        assert summary.severity == "warning"
        assert is_valid(document)
    else:
        assert summary.severity == "error"


def test_thousands_of_unknown_verbs_are_named_in_bounded_number() -> None:
    # libxml2 stops checking a parent's children at the first one out of place; the root's
    # verbs are checked in parts, so each part names its first stranger.
    problems = _named("<Response>" + "<Nope/>" * 8000 + "</Response>")
    assert problems
    assert {p.rule for p in problems} == {"unknown-element"}
    assert problems[0].path == "/Response/Nope[1]"


def test_huge_numbers_are_named_not_converted() -> None:
    digits = "9" * 6000
    for document in (
        f"<Response><Forward to='+15551230000' callTimeout='{digits}'/></Response>",
        f"<Response><Gather repeatCount='{digits}'><PlayAudio>a</PlayAudio></Gather></Response>",
        f"<Response><Gather repeatCount='-{digits}'/></Response>",
        f"<Response><Pause duration='{digits}.{digits}'/></Response>",
    ):
        rules = {p.rule for p in _named(document)}
        assert rules
        assert rules <= {"attribute-range", "attribute-value", "repeat-count-limit"}


# ---- checking many verbs in chunks gives the answer of one pass ------------------------------
VERB_SAMPLES = (
    "<Hangup/>", "<Pause duration='2'/>", "<Pause duration='0'/>", "<Nope/>",
    "<PhoneNumber>+15551230000</PhoneNumber>", "<Ring>x</Ring>", "<Tag>t</Tag>",
    "<SpeakSentence>Hi <break time='1s'/></SpeakSentence>", "text",
)  # fmt: skip


@settings(HOSTILE, max_examples=40)
@given(
    st.lists(st.sampled_from(VERB_SAMPLES), min_size=60, max_size=300),
    st.sampled_from(["", " x='1'"]),
)
def test_many_verbs_get_the_verdict_of_one_libxml2_pass(verbs: list[str], root_attribute: str) -> None:
    document = f"<Response{root_attribute}>" + "".join(verbs) + "</Response>"
    whole = bool(lxml_schema().validate(etree.fromstring(document.encode())))
    problems = _named(document)
    assert whole is (not any(p.severity == "error" for p in problems))
    root = parse(document)
    for problem in problems:
        if problem.path:
            assert root.getroottree().xpath(problem.path.replace("/Response", "/*", 1)), problem
    # Problems are named at their own verb: the n-th Pause, when broken, is reported as Pause[n].
    pauses = [v for v in verbs if v.startswith("<Pause")]
    broken = [f"/Response/Pause[{n}]" for n, pause in enumerate(pauses, start=1) if "'0'" in pause]
    ranges = [p.path for p in problems if p.rule == "attribute-range"]
    assert set(ranges) <= set(broken)


def test_crowded_elements_below_the_root_are_a_named_limit() -> None:
    from conformance.bxml.parsing import MAX_CHILDREN

    crowded = (
        "<Response><SpeakSentence>" + "<s x='1'>a</s>" * (MAX_CHILDREN + 1) + "</SpeakSentence></Response>"
    )
    (problem,) = _named(crowded)
    assert (problem.rule, problem.path) == ("too-many-children", "/Response/SpeakSentence[1]")
    assert f"{MAX_CHILDREN + 1} child elements" in problem.message
    at_limit = "<Response><SpeakSentence>" + "<s>a</s>" * MAX_CHILDREN + "</SpeakSentence></Response>"
    assert _named(at_limit) == []
    # The root is not limited: its verbs are checked in parts.
    assert _named("<Response>" + "<Hangup/>" * (MAX_CHILDREN * 4) + "</Response>") == []


# Every rule's problems by the thousand, in the context that has them: a path costs time in
# proportion to the element's siblings, so only the listed problems may get one.
RULE_FLOODS = {
    "context-forbidden": ("conference", "<Response>" + "<Hangup/>" * 7000 + "</Response>"),
    "context-forbidden (transferAnswer)": (
        "transferAnswer",
        "<Response>" + "<Bridge>c-1</Bridge>" * 3000 + "</Response>",
    ),
    "start-gather-with-forward": (
        "call",
        "<Response><StartGather dtmfUrl='https://a.example/d'/>"
        + "<Forward to='+15551230000'/>" * 2000
        + "</Response>",
    ),
    "diversion-reason-without-stack": (
        "call",
        "<Response>" + "<Forward to='+15551230000' diversionReason='away'/>" * 1200 + "</Response>",
    ),
}


@pytest.mark.parametrize("name", sorted(RULE_FLOODS))
def test_thousands_of_rule_problems_get_paths_only_as_listed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.bxml import rules

    context, document = RULE_FLOODS[name]
    assert len(document.encode()) <= MAX_DOCUMENT_BYTES
    paths = 0
    real = rules.element_path

    def counted(element: Any) -> str:
        nonlocal paths
        paths += 1
        return str(real(element))

    monkeypatch.setattr(rules, "element_path", counted)
    problems = list(iter_problems(document, context))
    assert len(problems) == MAX_REPORTED + 1
    assert problems[-1].rule == "too-many-problems"
    assert int(problems[-1].message.split()[0]) > 1000  # the rest are counted, not listed
    assert {p.rule for p in problems[:-1]} >= {name.split(" ")[0]}
    assert paths <= MAX_REPORTED
