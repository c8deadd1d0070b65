"""Hostile and malformed input: a named error, nothing read, nothing expanded."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from conformance.bxml import MAX_DOCUMENT_BYTES, BxmlValidationError, DocumentTypeError, iter_errors, parse

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Response [
  <!ENTITY a "laugh">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
  <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
  <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
  <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
  <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<Response><SpeakSentence>&i;</SpeakSentence></Response>"""


def _rules(document: str | bytes) -> list[str]:
    return [e.rule for e in iter_errors(document)]


def test_billion_laughs_is_refused_before_parsing() -> None:
    assert _rules(BILLION_LAUGHS) == ["forbidden-dtd"]
    with pytest.raises(BxmlValidationError) as caught:
        parse(BILLION_LAUGHS)
    assert caught.value.rule == "forbidden-dtd"
    assert caught.value.line == 2


def test_quadratic_blowup_is_refused() -> None:
    big = "x" * 20000
    document = f'<!DOCTYPE Response [<!ENTITY big "{big}">]><Response><Tag>{"&big;" * 2000}</Tag></Response>'
    assert _rules(document) == ["forbidden-dtd"]


def test_external_entity_to_a_file_reads_nothing(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE Response [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>'
        "<Response><SpeakSentence>&leak;</SpeakSentence></Response>"
    )
    errors = list(iter_errors(document))
    assert [e.rule for e in errors] == ["forbidden-dtd"]
    assert all("TOP-SECRET" not in str(e) for e in errors)


def test_external_entity_and_parameter_entity_to_a_url_fetch_nothing(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/evil.dtd")
    httpserver.expect_request("/evil.dtd").respond_with_data('<!ENTITY leak "x">')
    documents = [
        f'<!DOCTYPE Response [<!ENTITY leak SYSTEM "{url}">]><Response><Tag>&leak;</Tag></Response>',
        f'<!DOCTYPE Response [<!ENTITY % remote SYSTEM "{url}"> %remote;]><Response/>',
        f'<!DOCTYPE Response SYSTEM "{url}"><Response/>',
    ]
    for document in documents:
        assert _rules(document) == ["forbidden-dtd"]
    assert httpserver.log == []


def test_entity_reference_without_a_dtd_is_malformed_not_expanded() -> None:
    errors = list(iter_errors("<Response><Tag>&undefined;</Tag></Response>"))
    assert [e.rule for e in errors] == ["malformed-xml"]
    assert errors[0].line == 1


def test_xinclude_is_never_processed(tmp_path: Path) -> None:
    target = tmp_path / "included.xml"
    target.write_text("<Hangup/>")
    document = (
        '<Response xmlns:xi="http://www.w3.org/2001/XInclude">'
        f'<xi:include href="{target.as_uri()}"/></Response>'
    )
    root = parse(document)
    assert [child.tag for child in root] == ["{http://www.w3.org/2001/XInclude}include"]
    assert _rules(document) == ["unknown-element"]


def test_twenty_thousand_deep_nesting_is_too_deep() -> None:
    unclosed = "<Response>" + "<p>" * 20000  # 60 KB: under the size limit
    assert len(unclosed.encode()) <= MAX_DOCUMENT_BYTES
    assert _rules(unclosed) == ["too-deep"]
    closed = "<Response><SpeakSentence>" + "<s>" * 40 + "deep" + "</s>" * 40 + "</SpeakSentence></Response>"
    errors = list(iter_errors(closed))
    assert [e.rule for e in errors] == ["too-deep"]
    assert errors[0].path.startswith("/Response/SpeakSentence[1]/s[1]/s[1]")


def _nested(levels: int, innermost: str) -> str:
    """``levels`` elements, each in the one before; the last written as ``innermost`` says."""
    return "<Response>" + "<s>" * (levels - 2) + innermost + "</s>" * (levels - 2) + "</Response>"


@pytest.mark.parametrize("padding", ["", "<!--<<<<-->", "<![CDATA[<<<<]]>", "<?pi <<<<?>", "<s/>" * 40])
@pytest.mark.parametrize("innermost", ["<s/>", "<s></s>", "<s>a</s>"])
def test_depth_limit_holds_exactly_whatever_else_adds_marks(innermost: str, padding: str) -> None:
    """parse() looks for too-deep nesting only in documents with at least 2 * MAX_DEPTH + 1 "<"
    (the fewest a deeper nesting has): one level over the limit, written with that fewest, is
    still refused, and one level under it is accepted however many "<" the rest adds."""
    from conformance.bxml.parsing import MAX_DEPTH

    over = _nested(MAX_DEPTH + 1, innermost)
    if innermost == "<s/>":
        assert over.count("<") == 2 * MAX_DEPTH + 1
    at_limit = _nested(MAX_DEPTH, innermost)
    for document in (over, over.replace("<s>", "<s>" + padding, 1)):
        with pytest.raises(BxmlValidationError) as raised:
            parse(document)
        assert [e.rule for e in raised.value.errors] == ["too-deep"]
    for document in (at_limit, at_limit.replace("<s>", "<s>" + padding, 1)):
        assert sum(1 for _ in parse(document).iter()) >= MAX_DEPTH


def test_deep_nesting_over_the_size_limit_is_refused_by_size_first() -> None:
    document = "<Response>" + "<p>" * 20000 + "</p>" * 20000 + "</Response>"
    assert _rules(document) == ["document-too-large"]


def test_invalid_utf8_is_named_with_its_line() -> None:
    errors = list(iter_errors(b"<Response>\n<Tag>caf\xe9</Tag>\n</Response>"))
    assert [(e.rule, e.line) for e in errors] == [("invalid-encoding", 2)]


@pytest.mark.parametrize(
    "document",
    [
        "<Response/>".encode("utf-16"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Response/>',
        '<?xml version="1.0" encoding="UTF-16"?><Response/>',
        "<Response><Tag>\ud800</Tag></Response>",
    ],
)
def test_other_encodings_are_refused(document: str | bytes) -> None:
    assert _rules(document) == ["invalid-encoding"]


def test_utf8_declared_in_any_case_and_bom_are_fine() -> None:
    assert _rules(b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><Response/>') == []
    assert _rules('<?xml version="1.0" encoding="UTF-8"?><Response><Tag>caf\u00e9</Tag></Response>') == []


def test_size_limit_is_exactly_64_kib() -> None:
    head, tail = "<Response><Tag>", "</Tag></Response>"
    fill = MAX_DOCUMENT_BYTES - len(head) - len(tail)
    at_limit = head + "t" * fill + tail
    assert len(at_limit.encode()) == MAX_DOCUMENT_BYTES
    # The Tag text is too long for its own rule, but the size is accepted.
    assert "document-too-large" not in _rules(at_limit)
    assert _rules(head + "t" * (fill + 1) + tail) == ["document-too-large"]
    # Multi-byte characters count as bytes, not characters.
    assert _rules(head + "\u00e9" * (fill // 2 + 1) + tail) == ["document-too-large"]


@pytest.mark.parametrize(
    ("document", "line"),
    [
        ("<Response><Hangup></Response>", 1),
        ("<Response>\n<Pause duration='1'>\n</Response>", 3),
        ("", None),
        ("just text", 1),
        ("<Response/><Response/>", 1),
    ],
)
def test_malformed_xml_is_named(document: str, line: int | None) -> None:
    errors = list(iter_errors(document))
    assert [e.rule for e in errors] == ["malformed-xml"]
    if line is not None:
        assert errors[0].line == line


def test_parse_returns_the_root_without_comments() -> None:
    root = parse("<Response><!-- note --><Hangup/><?pi x?></Response>")
    assert [child.tag for child in root] == ["Hangup"]


def test_parse_rejects_non_text_input() -> None:
    with pytest.raises(TypeError) as caught:
        parse(42)  # type: ignore[arg-type]
    assert isinstance(caught.value, DocumentTypeError)
    assert caught.value.reason == "document-type"


def test_schema_location_hints_are_accepted_but_never_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/other.xsd").respond_with_data("<x/>")
    hint = (
        '<Response xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:noNamespaceSchemaLocation="{httpserver.url_for("/other.xsd")}">'
    )
    assert _rules(hint + "<Hangup/></Response>") == []
    # An invalid document is explained by xmlschema: still nothing fetched.
    assert _rules(hint + "<Pause duration='0'/></Response>") == ["attribute-range"]
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16-le", "UTF-16 little-endian"),
        ("utf-16-be", "UTF-16 big-endian"),
        ("utf-32-le", "UTF-32 little-endian"),
        ("utf-32-be", "UTF-32 big-endian"),
        ("utf-16", "UTF-16 (little-endian byte-order mark)"),
        ("utf-32", "UTF-32 (little-endian byte-order mark)"),
        ("cp500", "EBCDIC"),
    ],
)
def test_encodings_without_declaration_or_bom_cannot_carry_a_dtd(
    encoding: str, named: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE Response [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>'
        "<Response><SpeakSentence>&leak;</SpeakSentence></Response>"
    )
    (error,) = iter_errors(document.encode(encoding))
    assert error.rule == "invalid-encoding"
    assert named in error.message
    assert "TOP-SECRET" not in str(error)


def test_too_deep_is_an_error_the_simulator_refuses() -> None:
    from conformance.bxml import first_blocking_error

    deep = "<Response><SpeakSentence>" + "<s>" * 33 + "x" + "</s>" * 33 + "</SpeakSentence></Response>"
    error = first_blocking_error(deep)
    assert error is not None
    assert (error.rule, error.severity) == ("too-deep", "error")
