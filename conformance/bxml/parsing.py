"""Safe parsing of untrusted BXML.

Checks run cheapest first and stop at the first failure, so hostile input costs microseconds
and reads nothing:

1. the size (64 KB);
2. the encoding, judged the way an XML parser detects it (byte-order marks, and the first bytes
   ``00 00 00 3C``, ``3C 00 00 00``, ``00 3C``, ``3C 00``, EBCDIC ``4C 6F A7 94``), then the
   declared encoding, then the bytes themselves: BXML is UTF-8 and nothing else, and a NUL byte
   (which every UTF-16/32 text of ASCII markup holds, and XML forbids) is refused too;
3. a DOCTYPE (where entity bombs and external entities live), decided by what a parser reports,
   not by a substring: expat, which opens nothing unless asked, stops at the first DOCTYPE or at
   the root element, so ``<!DOCTYPE`` inside a comment or CDATA section is accepted;
4. libxml2, told the input is UTF-8 whatever it declares, with entity expansion, DTD loading and
   network access off and a resolver that answers every request with nothing (and records it);
   a document whose tree still carries a DOCTYPE, or that asked the resolver for anything, is
   refused with ``forbidden-dtd`` (defence in depth: step 3 should have stopped it);
5. the element depth (``too-deep``) and the children of any element below the root
   (``too-many-children`` past :data:`MAX_CHILDREN`): safety limits of this project, because
   libxml2 spends time on each error in proportion to the element's siblings.  (A root with
   many verbs is checked in parts instead: see :mod:`conformance.bxml.schema`.)

XInclude is never processed.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any
from xml.parsers import expat

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlError, BxmlValidationError, DocumentTypeError

__all__ = ["MAX_CHILDREN", "MAX_DEPTH", "MAX_DOCUMENT_BYTES", "element_path", "parse", "to_bytes"]

#: Largest BXML document Bandwidth accepts, in bytes.
MAX_DOCUMENT_BYTES = 65536
#: Deepest element nesting accepted (root = 1).  Real BXML needs 3, plus a few SSML levels.
MAX_DEPTH = 32
#: Most child elements of any element below the root (the largest grammar bound is 20).
MAX_CHILDREN = 1024

_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
# The declarations SDKs write, whole: UTF-8 without asking _DECLARED_ENCODING.
_UTF8_DECLARATIONS = tuple(
    f"<?xml version={q}1.0{q}{encoding}?>".encode()
    for q in "\"'"
    for encoding in (f" encoding={q}UTF-8{q}", f" encoding={q}utf-8{q}", "")
)
# How XML 1.0 (appendix F) tells encodings apart from the first bytes, before any declaration.
_SNIFFED: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian byte-order mark)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian byte-order mark)"),
    (b"\xfe\xff", "UTF-16 (big-endian byte-order mark)"),
    (b"\xff\xfe", "UTF-16 (little-endian byte-order mark)"),
    (b"\x00\x00\x00\x3c", "UTF-32 big-endian"),
    (b"\x3c\x00\x00\x00", "UTF-32 little-endian"),
    (b"\x00\x00\x3c\x00", "UCS-4 (unusual byte order)"),
    (b"\x00\x3c\x00\x00", "UCS-4 (unusual byte order)"),
    (b"\x00\x3c", "UTF-16 big-endian"),
    (b"\x3c\x00", "UTF-16 little-endian"),
    (b"\x4c\x6f\xa7\x94", "EBCDIC"),
)
_TOO_DEEP_XPATH = etree.XPath("boolean(" + "/*" * (MAX_DEPTH + 1) + ")")
_FIRST_TOO_DEEP = etree.XPath("/*" * (MAX_DEPTH + 1))
# The fewest "<" a document nesting deeper than MAX_DEPTH holds (see parse).
_DEEP_MARKS = 2 * MAX_DEPTH + 1
_FIRST_CROWDED = etree.XPath(f"(/*//*[count(*) > {MAX_CHILDREN}])[1]")
# Each child element takes at least 4 bytes ("<a/>"): a smaller document cannot be crowded.
_CROWD_BYTES = 4 * MAX_CHILDREN
_local = threading.local()


class _Refuser(etree.Resolver):  # type: ignore[misc]
    """Answers every request of libxml2 for an outside resource (DTD, entity, XInclude) with an
    empty document, and remembers that it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        self.asked.append(str(system_url or public_id or ""))
        return self.resolve_empty(context)


def _parser() -> tuple[etree.XMLParser, _Refuser]:
    try:
        found: tuple[etree.XMLParser, _Refuser] = _local.parser
    except AttributeError:  # this thread's first parse
        parser = etree.XMLParser(
            encoding="utf-8",
            resolve_entities=False,
            no_network=True,
            dtd_validation=False,
            load_dtd=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        refuser = _Refuser()
        parser.resolvers.add(refuser)
        found = (parser, refuser)
        _local.parser = found
    return found


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


def _check_encoding(data: bytes, encoded_here: bool = False) -> None:
    """Raise ``invalid-encoding`` unless ``data`` is UTF-8 (what libxml2 will be told it is).

    No NUL byte and valid UTF-8 rule out every other encoding XML can detect: UTF-16 and UTF-32
    text of ASCII markup holds NUL bytes, and their byte-order marks, like EBCDIC, are not UTF-8.
    The first bytes then only name what the document is.  ``encoded_here``: ``data`` is what
    :func:`to_bytes` made of a ``str``, valid UTF-8 by construction, so it is not decoded again
    (the NUL and declared-encoding checks still run).
    """
    nul = data.find(b"\x00")
    bad: UnicodeDecodeError | None = None
    if not encoded_here and not data.isascii():  # ASCII is UTF-8
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = exc
    if nul >= 0 or bad is not None:
        for prefix, name in _SNIFFED:
            if data.startswith(prefix):
                raise _fail("invalid-encoding", f"document is {name}; BXML must be UTF-8", 1)
    if nul >= 0:
        raise _fail(
            "invalid-encoding",
            f"byte {nul} is NUL, which XML does not allow (a UTF-16 or UTF-32 document?); BXML is UTF-8",
            _line_at(data, nul),
        )
    if bad is not None:
        raise _fail(
            "invalid-encoding",
            f"byte {bad.start} is not valid UTF-8 ({bad.reason})",
            _line_at(data, bad.start),
        )
    if data.startswith(_UTF8_DECLARATIONS):
        return
    declared = _DECLARED_ENCODING.match(data) if data[:5] == b"<?xml" or data[:3] == b"\xef\xbb\xbf" else None
    if declared is None and data[:1].isspace():
        declared = _DECLARED_ENCODING.match(data)
    if declared is not None and declared.group(1).decode("ascii", "replace").lower() not in _UTF8_NAMES:
        name = declared.group(1).decode("ascii", "replace")
        raise _fail("invalid-encoding", f"document declares encoding {name!r}; BXML must be UTF-8", 1)


class _Stop(Exception):
    def __init__(self, doctype_line: int | None) -> None:
        super().__init__(doctype_line)
        self.doctype_line = doctype_line


def _doctype_line(data: bytes) -> int | None:
    """The line of the document's DOCTYPE as expat reads it, or ``None`` when it has none.

    Expat stops at the DOCTYPE (before any entity in it is declared) or at the root element,
    after which XML allows no DOCTYPE.  It opens nothing: no external entity handler is set and
    parameter entities are never parsed.  Input expat finds malformed before either is left to
    libxml2, which names the fault (and is checked for a DOCTYPE afterwards).
    """
    reader = expat.ParserCreate(encoding="utf-8")
    reader.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def doctype(*_: object) -> None:
        raise _Stop(reader.CurrentLineNumber)

    def root(*_: object) -> None:
        raise _Stop(None)

    reader.StartDoctypeDeclHandler = doctype
    reader.StartElementHandler = root
    try:
        reader.Parse(data, True)
    except _Stop as stop:
        return stop.doctype_line
    except expat.ExpatError:
        return None
    return None


def parse(document: str | bytes) -> etree._Element:
    """Parse ``document`` safely and return its root element.

    Raises :class:`BxmlValidationError` with rule ``document-too-large``, ``invalid-encoding``,
    ``forbidden-dtd``, ``malformed-xml`` or ``too-deep``, and nothing else for any ``str`` or
    ``bytes`` (other types: :class:`DocumentTypeError`).  Grammar checks are not done here (see
    :func:`conformance.bxml.iter_errors`).  Comments and processing instructions are dropped.
    """
    data = to_bytes(document)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _fail(
            "document-too-large",
            f"document is {len(data)} bytes; BXML is limited to {MAX_DOCUMENT_BYTES} bytes (64 KB)",
        )
    _check_encoding(data, isinstance(document, str))
    # In UTF-8 (now certain, and what libxml2 is told) a DOCTYPE is spelled exactly so.  Its "!"
    # is looked for first: one byte is found with memchr, ~3x cheaper than the word on 1 KB.
    doctype = data.find(b"!") >= 0 and b"<!DOCTYPE" in data
    if doctype:
        line = _doctype_line(data)
        if line is not None:
            raise _fail("forbidden-dtd", "a DOCTYPE (DTD, entity declarations) is not allowed in BXML", line)
    root = _libxml2(data, doctype)
    # The XPath costs ~5 us even on a shallow tree, so it runs only when the document has enough "<"
    # for nesting deeper than MAX_DEPTH: that takes MAX_DEPTH elements each holding another, so
    # each with a start tag and an end tag ("<a/>" holds nothing), plus the innermost's start tag,
    # every tag with its own "<": at least _DEEP_MARKS of them.  Everything else (declaration,
    # comments, CDATA, PIs, more elements) only adds "<"; text and attribute values hold none
    # ("&lt;" is not one), and the document is well-formed by now, so each tag is a tag.
    if data.count(b"<") >= _DEEP_MARKS and _TOO_DEEP_XPATH(root):
        deepest = _FIRST_TOO_DEEP(root)
        line = deepest[0].sourceline if isinstance(deepest, list) and deepest else None
        error = BxmlError(
            rule="too-deep",
            path=element_path(deepest[0]) if isinstance(deepest, list) and deepest else "",
            line=line,
            message=f"elements nest deeper than {MAX_DEPTH} levels",
        )
        raise BxmlValidationError([error])
    crowded = _FIRST_CROWDED(root) if len(data) > _CROWD_BYTES else None
    if crowded and isinstance(crowded, list):
        element = crowded[0]
        count = sum(1 for _ in element.iterchildren("*"))
        message = (
            f"<{_display_name(element.tag)}> has {count} child elements; at most {MAX_CHILDREN} are "
            "accepted below the root (a safety limit of this project)"
        )
        error = BxmlError("too-many-children", element_path(element), element.sourceline, message)
        raise BxmlValidationError([error])
    return root


def _libxml2(data: bytes, doctype: bool) -> etree._Element:
    parser, refuser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        text = str(exc.msg or exc)
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
        if "depth" in text.lower():
            raise _fail("too-deep", f"elements nest deeper than {MAX_DEPTH} levels", line) from None
        raise _fail("malformed-xml", f"not well-formed XML: {text}", line) from None
    except etree.LxmlError as exc:  # anything else libxml2 or lxml refuse: still not a BXML document
        raise _fail("malformed-xml", f"not well-formed XML: {exc}") from None
    finally:
        asked = bool(refuser.asked)
        if asked:
            refuser.asked.clear()
    if asked or (doctype and _has_dtd(root)):
        raise _fail("forbidden-dtd", "a DOCTYPE (DTD, entity declarations) is not allowed in BXML", 1)
    return root


def _has_dtd(root: etree._Element) -> bool:
    info = root.getroottree().docinfo
    return bool(info.doctype) or info.internalDTD is not None or info.externalDTD is not None


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
            steps.append(f"/{name}[{_index(node)}]")
        node = parent
    return "".join(reversed(steps))


def _display_name(tag: object) -> str:
    if not isinstance(tag, str):
        return "node()"
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return f"{{{namespace}}}{local}"
    return tag


def _index(node: etree._Element) -> int:
    """1-based position of ``node`` among its same-named siblings, counted by libxml2 (a name
    test in C), so that paths stay cheap among thousands of siblings."""
    tag = node.tag
    if not isinstance(tag, str):
        return 1 + sum(1 for _ in node.itersiblings(tag, preceding=True))
    return 1 + int(_count_before(tag)(node))


@lru_cache(maxsize=512)
def _count_before(tag: str) -> etree.XPath:
    uri, local = tag[1:].split("}", 1) if tag.startswith("{") else ("", tag)
    if uri:
        return etree.XPath(f"count(preceding-sibling::n:{local})", namespaces={"n": uri})
    return etree.XPath(f"count(preceding-sibling::{local})")
