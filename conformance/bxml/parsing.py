"""Safe parsing of untrusted BXML.

Checks run cheapest first and stop at the first failure, so hostile input costs microseconds
and reads nothing: the size (64 KB), the encoding (UTF-8 only), any DOCTYPE (which is where
entity bombs and external entities live), then libxml2 with entity expansion, DTD loading and
network access off, and finally the element depth.  XInclude is never processed.
"""

from __future__ import annotations

import re
import threading

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlError, BxmlValidationError, DocumentTypeError

__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "element_path", "parse", "to_bytes"]

#: Largest BXML document Bandwidth accepts, in bytes.
MAX_DOCUMENT_BYTES = 65536
#: Deepest element nesting accepted (root = 1).  Real BXML needs 3, plus a few SSML levels.
MAX_DEPTH = 32

_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
_TOO_DEEP_XPATH = etree.XPath("boolean(" + "/*" * (MAX_DEPTH + 1) + ")")
_FIRST_TOO_DEEP = etree.XPath("/*" * (MAX_DEPTH + 1))
_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            dtd_validation=False,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def _fail(rule: str, message: str, line: int | None = None) -> BxmlValidationError:
    return BxmlValidationError([BxmlError(rule=rule, path="", line=line, message=message)])


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def to_bytes(document: str | bytes) -> bytes:
    """The document as UTF-8 bytes (str is encoded; anything else is a :class:`DocumentTypeError`)."""
    if isinstance(document, bytes):
        return document
    if isinstance(document, str):
        try:
            return document.encode("utf-8")
        except UnicodeEncodeError as exc:
            line = document.count("\n", 0, exc.start) + 1
            raise _fail(
                "invalid-encoding", f"text holds an unencodable character: {exc.reason}", line
            ) from None
    raise DocumentTypeError(f"a BXML document is str or bytes, not {type(document).__name__}")


def parse(document: str | bytes) -> etree._Element:
    """Parse ``document`` safely and return its root element.

    Raises :class:`BxmlValidationError` with rule ``document-too-large``, ``invalid-encoding``,
    ``forbidden-dtd``, ``malformed-xml`` or ``too-deep``.  Grammar checks are not done here
    (see :func:`conformance.bxml.iter_errors`).  Comments and processing instructions are dropped.
    """
    data = to_bytes(document)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _fail(
            "document-too-large",
            f"document is {len(data)} bytes; BXML is limited to {MAX_DOCUMENT_BYTES} bytes (64 KB)",
        )
    declared = _DECLARED_ENCODING.match(data)
    if declared is not None and declared.group(1).decode("ascii", "replace").lower() not in _UTF8_NAMES:
        name = declared.group(1).decode("ascii", "replace")
        raise _fail("invalid-encoding", f"document declares encoding {name!r}; BXML must be UTF-8", 1)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(
            "invalid-encoding",
            f"byte {exc.start} is not valid UTF-8 ({exc.reason})",
            _line_at(data, exc.start),
        ) from None
    doctype = data.find(b"<!DOCTYPE")
    if doctype >= 0:
        raise _fail(
            "forbidden-dtd",
            "a DOCTYPE (DTD, entity declarations) is not allowed in BXML",
            _line_at(data, doctype),
        )
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        text = str(exc.msg or exc)
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        if "depth" in text.lower():
            raise _fail("too-deep", f"elements nest deeper than {MAX_DEPTH} levels", line) from None
        raise _fail("malformed-xml", f"not well-formed XML: {text}", line) from None
    # No DOCTYPE can reach libxml2: XML spells it exactly "<!DOCTYPE", refused above.
    if _TOO_DEEP_XPATH(root):
        deepest = _FIRST_TOO_DEEP(root)
        line = deepest[0].sourceline if isinstance(deepest, list) and deepest else None
        error = BxmlError(
            rule="too-deep",
            path=element_path(deepest[0]) if isinstance(deepest, list) and deepest else "",
            line=line,
            message=f"elements nest deeper than {MAX_DEPTH} levels",
        )
        raise BxmlValidationError([error])
    return root


def element_path(element: etree._Element) -> str:
    """``/Response/Gather[1]/SpeakSentence[2]``: 1-based index among same-named siblings."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        name = _display_name(node.tag)
        if parent is None:
            steps.append(f"/{name}")
        else:
            index = 1 + sum(1 for _ in node.itersiblings(node.tag, preceding=True))
            steps.append(f"/{name}[{index}]")
        node = parent
    return "".join(reversed(steps))


def _display_name(tag: object) -> str:
    if not isinstance(tag, str):
        return "node()"
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return f"{{{namespace}}}{local}"
    return tag
