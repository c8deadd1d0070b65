# ruff: noqa: E501  (the case table keeps each document on one line, as written)
"""iter_errors / validate / is_valid: each rule by name, with path and line."""

from __future__ import annotations

import pytest

from conformance.bxml import (
    RULES,
    BxmlError,
    BxmlValidationError,
    UnknownContextError,
    is_valid,
    iter_errors,
    validate,
)
from conformance.bxml.rules import RULE_TABLE, WARNING_RULES
from conformance.bxml.validator import MAX_REPORTED, iter_problems, iter_warnings
from conformance.errors import ConformanceError

CASES: list[tuple[str, str, str, str]] = [
    # (rule, document, expected path, context)
    ("wrong-root", "<Hangup/>", "/Hangup", "call"),
    ("wrong-root", '<Response xmlns="urn:other"/>', "/{urn:other}Response", "call"),
    ("unknown-element", "<Response><Wait/></Response>", "/Response/Wait[1]", "call"),
    ("forbidden-child", "<Response><Gather><Hangup/></Gather></Response>", "/Response/Gather[1]/Hangup[1]", "call"),
    ("forbidden-child", "<Response><PhoneNumber>+15551230000</PhoneNumber></Response>", "/Response/PhoneNumber[1]", "call"),
    ("forbidden-child", "<Response><SpeakSentence>a<Pause/></SpeakSentence></Response>", "/Response/SpeakSentence[1]/Pause[1]", "call"),
    ("too-many-children", "<Response><Refer><SipUri>sip:a@b.c</SipUri><SipUri>sip:d@b.c</SipUri></Refer></Response>",
     "/Response/Refer[1]/SipUri[2]", "call"),
    ("too-many-children", "<Response><StartStream destination='wss://s.example/x'>"
     + "<StreamParam name='n' value='v'/>" * 13 + "</StartStream></Response>", "/Response/StartStream[1]/StreamParam[13]", "call"),
    ("too-few-children", "<Response><Transfer/></Response>", "/Response/Transfer[1]", "call"),
    ("too-few-children", "<Response><Refer referCompleteUrl='/r'/></Response>", "/Response/Refer[1]", "call"),
    ("unexpected-text", "<Response>hello</Response>", "/Response", "call"),
    ("unexpected-text", "<Response><Hangup>now</Hangup></Response>", "/Response/Hangup[1]", "call"),
    ("unknown-attribute", "<Response><Pause seconds='3'/></Response>", "/Response/Pause[1]", "call"),
    ("unknown-attribute", "<Response><Conference name='x'>room</Conference></Response>", "/Response/Conference[1]", "call"),
    ("missing-attribute", "<Response><Redirect/></Response>", "/Response/Redirect[1]", "call"),
    ("missing-attribute", "<Response><SpeakSentence>hi <sub>WHO</sub></SpeakSentence></Response>",
     "/Response/SpeakSentence[1]/sub[1]", "call"),
    ("attribute-value", "<Response><Ring answerCall='True'/></Response>", "/Response/Ring[1]", "call"),
    ("attribute-value", "<Response><Record fileFormat='ogg'/></Response>", "/Response/Record[1]", "call"),
    ("attribute-value", "<Response><Gather maxDigits='five'/></Response>", "/Response/Gather[1]", "call"),
    ("attribute-value", "<Response><Redirect redirectUrl='has space'/></Response>", "/Response/Redirect[1]", "call"),
    ("attribute-value", "<Response><Gather tag='" + "t" * 257 + "'/></Response>", "/Response/Gather[1]", "call"),
    ("attribute-value", "<Response><SpeakSentence>a<break time='11s'/></SpeakSentence></Response>",
     "/Response/SpeakSentence[1]/break[1]", "call"),
    ("attribute-range", "<Response><Gather maxDigits='0'/></Response>", "/Response/Gather[1]", "call"),
    ("attribute-range", "<Response><Gather interDigitTimeout='61'/></Response>", "/Response/Gather[1]", "call"),
    ("attribute-range", "<Response><Pause duration='0.05'/></Response>", "/Response/Pause[1]", "call"),
    ("attribute-range", "<Response><Ring duration='86401'/></Response>", "/Response/Ring[1]", "call"),
    ("attribute-range", "<Response><Record maxDuration='10801'/></Response>", "/Response/Record[1]", "call"),
    ("attribute-range", "<Response><SendDtmf toneDuration='49'>1</SendDtmf></Response>", "/Response/SendDtmf[1]", "call"),
    ("attribute-range", "<Response><Forward to='+15551230000' callTimeout='301'/></Response>", "/Response/Forward[1]", "call"),
    ("attribute-range", "<Response><Conference callbackTimeout='26'>r</Conference></Response>", "/Response/Conference[1]", "call"),
    ("missing-text", "<Response><PlayAudio/></Response>", "/Response/PlayAudio[1]", "call"),
    ("missing-text", "<Response><SpeakSentence>   </SpeakSentence></Response>", "/Response/SpeakSentence[1]", "call"),
    ("missing-text", "<Response><Bridge/></Response>", "/Response/Bridge[1]", "call"),
    ("text-value", "<Response><Bridge>c-95ac8d6e c-1a31c52e</Bridge></Response>", "/Response/Bridge[1]", "call"),
    ("text-value", "<Response><Conference>my room!</Conference></Response>", "/Response/Conference[1]", "call"),
    ("text-value", "<Response><Conference>" + "r" * 101 + "</Conference></Response>", "/Response/Conference[1]", "call"),
    ("text-value", "<Response><SendDtmf>12x</SendDtmf></Response>", "/Response/SendDtmf[1]", "call"),
    ("text-value", "<Response><SendDtmf>" + "1" * 51 + "</SendDtmf></Response>", "/Response/SendDtmf[1]", "call"),
    ("text-value", "<Response><Transfer><PhoneNumber>9195550100</PhoneNumber></Transfer></Response>",
     "/Response/Transfer[1]/PhoneNumber[1]", "call"),
    ("text-value", "<Response><Transfer><SipUri>agent@pbx.example</SipUri></Transfer></Response>",
     "/Response/Transfer[1]/SipUri[1]", "call"),
    ("context-forbidden", "<Response><Gather/></Response>", "/Response/Gather[1]", "conference"),
    ("context-forbidden", "<Response><Transfer><PhoneNumber>+15551230000</PhoneNumber></Transfer></Response>",
     "/Response/Transfer[1]", "transferAnswer"),
    ("repeat-count-limit", "<Response><Gather repeatCount='11'><PlayAudio>a.wav</PlayAudio><PlayAudio>b.wav</PlayAudio>"
     "</Gather></Response>", "/Response/Gather[1]", "call"),
    ("repeat-count-limit", "<Response><Gather>" + "<PlayAudio>a.wav</PlayAudio>" * 21 + "</Gather></Response>",
     "/Response/Gather[1]", "call"),
    ("diversion-reason-without-stack", "<Response><Forward to='+15551230000' diversionReason='away'/></Response>",
     "/Response/Forward[1]", "call"),
    ("stabilized-without-destination", "<Response><StartTranscription stabilized='true'/></Response>",
     "/Response/StartTranscription[1]", "call"),
    ("credentials-need-https", "<Response><Record username='u' recordCompleteUrl='http://a.example/r'/></Response>",
     "/Response/Record[1]", "call"),
    ("start-gather-with-forward", "<Response><StartGather dtmfUrl='/d'/><Forward to='+15551230000'/></Response>",
     "/Response/Forward[1]", "call"),
    ("too-many-problems", "<Response><Pause" + "".join(f" a{n}='1'" for n in range(MAX_REPORTED + 7)) + "/></Response>",
     "", "call"),
]  # fmt: skip
SEVERITY = {fact.name: fact.severity for fact in RULE_TABLE}


@pytest.mark.parametrize(("rule", "document", "path", "context"), CASES)
def test_rule_is_reported_with_its_path(rule: str, document: str, path: str, context: str) -> None:
    problems = list(iter_problems(document, context))
    assert (rule, path) in [(e.rule, e.path) for e in problems], [str(e) for e in problems]
    assert all(e.rule in RULES and e.severity == SEVERITY[e.rule] for e in problems)
    assert all(e.line in (1, None) and e.message for e in problems)
    # Errors and warnings split the problems between them.
    errors, warnings = list(iter_errors(document, context)), list(iter_warnings(document, context))
    assert sorted(map(str, errors + warnings)) == sorted(map(str, problems))
    assert (rule in [e.rule for e in errors]) is (rule not in WARNING_RULES)


def test_every_rule_has_a_case_here_or_in_the_hostile_tests() -> None:
    covered = {case[0] for case in CASES} | {
        "document-too-large", "invalid-encoding", "forbidden-dtd", "malformed-xml", "too-deep",
    }  # fmt: skip
    assert covered == set(RULES)


def test_lines_and_paths_point_at_the_culprit() -> None:
    document = (
        "<Response>\n"
        "  <SpeakSentence>One.</SpeakSentence>\n"
        "  <Gather>\n"
        "    <SpeakSentence>Two.</SpeakSentence>\n"
        "    <SpeakSentence voice='robot'>Three.</SpeakSentence>\n"
        "  </Gather>\n"
        "</Response>\n"
    )
    (error,) = iter_errors(document)
    assert error == BxmlError(
        rule="attribute-value",
        path="/Response/Gather[1]/SpeakSentence[2]",
        line=5,
        message=error.message,
    )
    assert "voice='robot'" in error.message
    assert (error.reason, error.sourceline) == (error.rule, error.line)
    assert "'julie'" in error.message  # says what is allowed


def test_range_message_says_the_range() -> None:
    (error,) = iter_errors("<Response><Gather maxDigits='51'/></Response>")
    assert "[1, 50]" in error.message


def test_every_problem_is_listed_not_just_the_first() -> None:
    document = "<Response><Pause duration='0'/><Foo/><Ring duration='0'/><Redirect/></Response>"
    rules = [e.rule for e in iter_errors(document)]
    assert rules.count("attribute-range") == 2
    assert "unknown-element" in rules
    assert "missing-attribute" in rules


def test_validate_raises_the_first_error_with_all_of_them() -> None:
    document = "<Response><Pause duration='0'/><Redirect/></Response>"
    errors = list(iter_errors(document))
    with pytest.raises(BxmlValidationError) as caught:
        validate(document)
    exc = caught.value
    assert isinstance(exc, ConformanceError)
    assert isinstance(exc, ValueError)
    assert exc.errors == tuple(errors)
    assert (exc.rule, exc.path, exc.line) == (errors[0].rule, errors[0].path, errors[0].line)
    assert exc.reason == errors[0].rule
    assert "and 1 more" in str(exc)


def test_validate_and_is_valid_accept_valid_documents() -> None:
    document = "<Bxml><SpeakSentence>Hi.</SpeakSentence><Hangup/></Bxml>"
    validate(document)
    assert is_valid(document)
    assert is_valid(document.encode())
    assert not is_valid("<Response><Hangup/>")


@pytest.mark.parametrize("context", ["Call", "conf", ""])
def test_unknown_context_is_a_value_error(context: str) -> None:
    with pytest.raises(UnknownContextError) as caught:
        iter_errors("<Response/>", context)
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason == "unknown-context"
    with pytest.raises(ValueError, match="unknown BXML context"):
        is_valid("<Response/>", context)


def test_contexts_allow_what_the_docs_allow() -> None:
    conference = (
        "<Response><PlayAudio>a.wav</PlayAudio><SpeakSentence>Hi</SpeakSentence><StartRecording/>"
        "<PauseRecording/><ResumeRecording/><StopRecording/></Response>"
    )
    assert is_valid(conference, "conference")
    answer = (
        "<Response><SpeakSentence>Hi</SpeakSentence><Gather/><Record/><Redirect redirectUrl='/x'/></Response>"
    )
    assert is_valid(answer, "transferAnswer")
    assert not is_valid(answer, "conference")
    for verb in ("<Bridge>c-1a</Bridge>", "<Conference>r</Conference>", "<Forward to='+15551230000'/>"):
        assert is_valid(f"<Response>{verb}</Response>")
        assert not is_valid(f"<Response>{verb}</Response>", "transferAnswer")


def test_accepted_spellings_where_docs_and_sdk_differ() -> None:
    assert is_valid("<Response><Conference calbackTimeout='5'>r</Conference></Response>")
    assert is_valid("<Response><Conference callbackTimeout='5'>r</Conference></Response>")
    assert is_valid(
        "<Response><Transfer><PhoneNumber uui='abc'>+15551230000</PhoneNumber></Transfer></Response>"
    )
    # Typos of older SDK releases are not accepted.
    assert not is_valid("<Response><Record recordCompleteFallback_url='/x'/></Response>")


def test_whitespace_around_text_values_is_allowed() -> None:
    assert is_valid("<Response><Bridge>\n   c-95ac8d6e-1a31c52e\n</Bridge></Response>")
    assert is_valid("<Response><Transfer><PhoneNumber>  +15551230000 </PhoneNumber></Transfer></Response>")
    assert is_valid("<Response><Tag>  </Tag><Tag/></Response>")


class _SilentXmlschema:
    def iter_errors(self, tree: object) -> list[object]:
        return []


FALLBACK_CASES = [
    ("unknown-element", "<Response><Wait/></Response>"),
    ("forbidden-child", "<Response><Gather><Hangup/></Gather></Response>"),
    (
        "too-many-children",
        "<Response><Refer><SipUri>sip:a@b.c</SipUri><SipUri>sip:d@b.c</SipUri></Refer></Response>",
    ),
    ("too-few-children", "<Response><Transfer/></Response>"),
    ("unexpected-text", "<Response><Hangup>now</Hangup></Response>"),
    ("unknown-attribute", "<Response><Pause seconds='3'/></Response>"),
    ("missing-attribute", "<Response><Redirect/></Response>"),
    ("attribute-value", "<Response><Record fileFormat='ogg'/></Response>"),
    ("attribute-range", "<Response><Gather maxDigits='0'/></Response>"),
    ("missing-text", "<Response><PlayAudio/></Response>"),
    ("text-value", "<Response><Bridge>c-95ac8d6e,c-1a31c52e</Bridge></Response>"),
]


@pytest.mark.parametrize(("rule", "document"), FALLBACK_CASES)
def test_libxml2_log_names_the_same_rules_if_xmlschema_sees_nothing(
    monkeypatch: pytest.MonkeyPatch, rule: str, document: str
) -> None:
    from conformance.bxml import schema

    monkeypatch.setattr(schema, "xmlschema_schema", lambda: _SilentXmlschema())
    errors = list(iter_errors(document))
    assert rule in [e.rule for e in errors], [str(e) for e in errors]
    assert all(e.path.startswith("/Response") for e in errors)


def test_threads_get_the_same_answers_as_one_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    documents = [case[1] for case in CASES] + ["<Response><Hangup/></Response>"] * 10
    contexts = [case[3] for case in CASES] + ["call"] * 10
    expected = [[str(e) for e in iter_errors(d, c)] for d, c in zip(documents, contexts, strict=True)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(
                pool.map(lambda dc: [str(e) for e in iter_errors(*dc)], zip(documents, contexts, strict=True))
            )
            assert got == expected


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://media.example.net/a.wav?x=1&y=%2F", True),
        ("relative/path/b.mp3", True),
        ("  https://padded.example.net/c.wav \n", True),
        ("https://[::1]:8443/d.wav", True),
        ("a]b)c'd", True),
        ("https://bad.example.net/%zz.wav", False),
        ("https://space.example.net/a b.wav", False),
        ('https://quote.example.net/"x".wav', False),
        ("https://\u00fcber.example.net/a.wav", False),
    ],
)
def test_url_characters_are_judged_alike_by_both_engines(url: str, valid: bool) -> None:
    from lxml import etree

    from conformance.bxml.schema import lxml_schema, xmlschema_schema

    root = etree.Element("Response")
    etree.SubElement(root, "PlayAudio").text = url
    etree.SubElement(root, "Redirect").set("redirectUrl", url)
    tree = root.getroottree()
    assert bool(lxml_schema().validate(tree)) is valid
    assert bool(xmlschema_schema().is_valid(tree)) is valid
    assert is_valid(etree.tostring(root)) is valid


def test_every_rule_has_a_severity_and_a_fact_and_the_readme_lists_them() -> None:
    from conformance.resources import xsd_path

    assert {fact.name for fact in RULE_TABLE} == set(RULES)
    assert all(fact.fact and fact.severity in ("error", "warning") for fact in RULE_TABLE)
    assert {
        "diversion-reason-without-stack", "stabilized-without-destination", "credentials-need-https",
        "start-gather-with-forward",
    } == WARNING_RULES  # fmt: skip
    readme = (xsd_path().parent / "README.md").read_text()
    section = readme.split("## Rules and severities", 1)[1]
    rows = {
        cells[1].strip("` "): cells[2].strip()
        for line in section.splitlines()
        if line.startswith("| `") and len(cells := line.split("|")) > 3
    }
    assert rows == {fact.name: fact.severity for fact in RULE_TABLE}


def test_warnings_do_not_make_a_document_invalid() -> None:
    document = "<Response><Forward to='+15551230000' diversionReason='away'/><Pause duration='0'/></Response>"
    assert [e.rule for e in iter_errors(document)] == ["attribute-range"]
    (warning,) = iter_warnings(document)
    assert (warning.rule, warning.severity) == ("diversion-reason-without-stack", "warning")
    assert str(warning).startswith("line 1: warning: diversion-reason-without-stack: ")
    alone = "<Response><Forward to='+15551230000' diversionReason='away'/></Response>"
    assert is_valid(alone)
    validate(alone)
    from conformance.bxml import first_blocking_error

    assert first_blocking_error(alone) is None
    assert first_blocking_error(document) is not None


def test_start_gather_with_forward_needs_both_as_verbs_and_comes_before_other_rules() -> None:
    """check_rules looks for StartGather and Forward in its one pass over the elements: the rule
    holds for verbs of the root only, and its warnings still come first."""
    nested = (
        "<Response><Gather><SpeakSentence>x<StartGather dtmfUrl='/d'/></SpeakSentence></Gather>"
        "<Forward to='+15551230000'/></Response>"
    )
    assert "start-gather-with-forward" not in [e.rule for e in iter_problems(nested)]
    document = (
        "<Response><Forward to='+15551230000' diversionReason='away'/><SpeakSentence> </SpeakSentence>"
        "<StartGather dtmfUrl='/d'/><Forward to='+15551230001'/></Response>"
    )
    rules = [(e.rule, e.path) for e in iter_problems(document) if e.rule != "too-few-children"]
    assert rules == [
        ("start-gather-with-forward", "/Response/Forward[1]"),
        ("start-gather-with-forward", "/Response/Forward[2]"),
        ("diversion-reason-without-stack", "/Response/Forward[1]"),
        ("missing-text", "/Response/SpeakSentence[1]"),
    ]


@pytest.mark.parametrize(
    "declaration",
    [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<?xml version='1.0' encoding='utf-8'?>",
        '<?xml version="1.0"?>',
        '<?xml version="1.0" encoding="UTF-8"?><!-- x -->',
    ],
)
def test_utf8_declarations_and_their_neighbours(declaration: str) -> None:
    """The declarations SDKs write are accepted without a second look; one a byte away that
    declares another encoding is still refused."""
    assert is_valid(declaration + "<Response><Hangup/></Response>")
    assert is_valid((declaration + "<Response><Hangup/></Response>").encode())
    other = declaration.replace("?>", " encoding='latin-1'?>", 1).replace("UTF-8", "x").replace("utf-8", "x")
    other = other.replace(" encoding='x'", "").replace(' encoding="x"', "")
    assert [e.rule for e in iter_errors(other + "<Response><Hangup/></Response>")] == ["invalid-encoding"]


def test_listed_rule_problems_carry_their_paths_and_the_rest_are_counted() -> None:
    """The validator asks check_rules for paths only on what it lists; the list is the same."""
    from conformance.bxml import parse
    from conformance.bxml.rules import check_rules

    count = MAX_REPORTED + 30
    document = "<Response>" + "<Forward to='+15551230000' diversionReason='away'/>" * count + "</Response>"
    problems = list(iter_problems(document))
    everything = list(check_rules(parse(document), "call"))
    assert len(everything) == count
    assert all(e.path for e in everything)
    assert problems[:MAX_REPORTED] == everything[:MAX_REPORTED]
    assert [e.path for e in problems[:3]] == [f"/Response/Forward[{n}]" for n in (1, 2, 3)]
    assert problems[-1].rule == "too-many-problems"
    assert problems[-1].message.startswith("30 more")
    assert is_valid(document)
    few = list(check_rules(parse(document), "call", 5))
    assert [e.path for e in few[:5]] == [e.path for e in everything[:5]]
    assert not any(e.path for e in few[5:])


_PROMPT = "<PlayAudio>a.wav</PlayAudio>"


@pytest.mark.parametrize(
    ("document", "rules"),
    [
        # repeat-count-limit: without repeatCount the count is 1, so 20 prompts pass and 21 do not
        (f"<Response><Gather>{_PROMPT * 20}</Gather></Response>", []),
        (
            f"<Response><Gather>{_PROMPT * 21}</Gather></Response>",
            ["repeat-count-limit"],
        ),
        (
            f"<Response><Gather repeatCount='1'>{_PROMPT * 21}</Gather></Response>",
            ["repeat-count-limit"],
        ),
        (f"<Response><Gather repeatCount=' 010 '>{_PROMPT * 2}</Gather></Response>", []),
        (f"<Response><Gather repeatCount='11'>{_PROMPT * 2}</Gather></Response>", ["repeat-count-limit"]),
        # missing-text: text anywhere below the SpeakSentence counts; space anywhere does not
        ("<Response><SpeakSentence>\n  <s>Hi</s>\n</SpeakSentence></Response>", []),
        ("<Response><SpeakSentence> <s> </s>Hi</SpeakSentence></Response>", []),
        ("<Response><SpeakSentence> <s><emphasis>Hi</emphasis></s> </SpeakSentence></Response>", []),
        (
            "<Response><SpeakSentence> <s> <emphasis> </emphasis> </s>\n</SpeakSentence></Response>",
            ["missing-text"],
        ),
        ("<Response><SpeakSentence>\u00a0<break/>\u2003</SpeakSentence></Response>", ["missing-text"]),
        # credentials-need-https: every ...Url attribute, any case, spaces around
        (
            "<Response><Record password='p' recordCompleteUrl=' HTTP://a.example/r'/></Response>",
            ["credentials-need-https"],
        ),
        ("<Response><Record password='p' recordCompleteUrl='https://a.example/r'/></Response>", []),
        ("<Response><Record recordCompleteUrl='http://a.example/r'/></Response>", []),
    ],
)
def test_rule_boundaries(document: str, rules: list[str]) -> None:
    """Each rule's cheap first look (no repeatCount, text in the first SSML element, only the
    ...Url values) gives the answer the whole rule gives, on both sides of its boundary."""
    assert [e.rule for e in iter_problems(document)] == rules


@pytest.mark.parametrize("verbs", [63, 64, 65, 300])
def test_rules_find_the_same_whatever_the_number_of_verbs(verbs: int) -> None:
    """check_rules walks a small document element by element and a large one with lxml's tag
    filter: the findings, their order and paths are the same either side of the switch."""
    from conformance.bxml import parse
    from conformance.bxml.rules import check_rules

    fillers = "<Hangup/>" * (verbs - 3)
    document = (
        "<Response><Gather><SpeakSentence> </SpeakSentence></Gather>"
        f"{fillers}<Forward to='+15551230000' diversionReason='away'/><StartGather dtmfUrl='/d'/></Response>"
    )
    found = [(e.rule, e.path) for e in check_rules(parse(document), "call")]
    assert found == [
        ("start-gather-with-forward", "/Response/Forward[1]"),
        ("missing-text", "/Response/Gather[1]/SpeakSentence[1]"),
        ("diversion-reason-without-stack", "/Response/Forward[1]"),
    ]
    nested = document.replace("<StartGather dtmfUrl='/d'/></Response>", "</Response>").replace(
        "</SpeakSentence>", "</SpeakSentence><StartGather dtmfUrl='/d'/>"
    )
    assert [e.rule for e in check_rules(parse(nested), "call")] == [
        "missing-text",
        "diversion-reason-without-stack",
    ]
