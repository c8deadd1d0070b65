"""XSD validation: lxml as the fast yes/no, then words for a no, both on ``xsd/bxml.xsd``.

A valid document costs one libxml2 pass.  An invalid one is explained by xmlschema (loaded
once, on first need), which lists every problem in the best words, but only while that is cheap:
xmlschema's cost grows with the document, and faster than linearly with the errors of one element
(2,000 unknown attributes took 35 s).  Beyond ``_XMLSCHEMA_BOUNDS``, or should xmlschema fail or
see nothing, libxml2's own error log is translated instead: linear, in the same rule names, but
it may stop checking an element's children at the first one out of place.  Either way at most
``limit`` problems are listed and the rest are only counted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from itertools import islice
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlError
from conformance.bxml.grammar import ElementDecl, grammar
from conformance.bxml.parsing import element_path
from conformance.resources import xsd_path

__all__ = ["explainer_loaded", "lxml_schema", "schema_errors", "schema_valid", "xmlschema_schema"]

#: xmlschema explains a document only within these bounds: serialised bytes, libxml2 log
#: entries, elements, and attributes on any one element.
_XMLSCHEMA_BOUNDS = (8192, 20, 300, 40)
#: A root with more verbs than this is validated this many verbs at a time.
_CHUNK = 256

_local = threading.local()
_ATTRIBUTE_REASON = re.compile(r"^attribute (\S+?)=(?:'[^']*'|\"[^\"]*\"):\s*")
_LIBXML_ATTRIBUTE = re.compile(r"^Element '[^']*', attribute '([^']+)': ")
_LIBXML_QUOTED = re.compile(r"attribute '([^']+)'")
_LIBXML_DETAILS = {
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "is too small",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "is too small",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "is too large",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "is too large",
    "SCHEMAV_CVC_ENUMERATION_VALID": "is not one of the allowed values",
    "SCHEMAV_CVC_PATTERN_VALID": "does not have the allowed form",
    "SCHEMAV_CVC_MINLENGTH_VALID": "is too short",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "is too long",
    "SCHEMAV_CVC_LENGTH_VALID": "has the wrong length",
}
_COUNT_ELEMENTS = etree.XPath("count(//*)")
_RANGE_FACETS = {
    "XsdMinInclusiveFacet",
    "XsdMaxInclusiveFacet",
    "XsdMinExclusiveFacet",
    "XsdMaxExclusiveFacet",
}
# What failed, in words; the message then says what is allowed (from the grammar).
_DETAILS = {
    "XsdMinInclusiveFacet": "is too small",
    "XsdMinExclusiveFacet": "is too small",
    "XsdMaxInclusiveFacet": "is too large",
    "XsdMaxExclusiveFacet": "is too large",
    "XsdEnumerationFacets": "is not one of the allowed values",
    "XsdPatternFacets": "does not have the allowed form",
    "XsdMinLengthFacet": "is too short",
    "XsdMaxLengthFacet": "is too long",
    "XsdLengthFacet": "has the wrong length",
    "XsdAtomicBuiltin": "is not of the right type",
}
_LIBXML_RANGE = {
    "SCHEMAV_CVC_MININCLUSIVE_VALID",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID",
}


def lxml_schema() -> etree.XMLSchema:
    """This thread's compiled lxml schema (validators keep an error log, so one per thread)."""
    try:
        schema: etree.XMLSchema = _local.schema
    except AttributeError:  # this thread's first validation
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        schema = etree.XMLSchema(etree.parse(str(xsd_path()), parser))
        _local.schema = schema
    return schema


_EXPLAINER_LOCK = threading.Lock()
_explainer: Any = None


def xmlschema_schema() -> Any:
    """The xmlschema model of the grammar (loaded once; used to explain invalid documents).

    Building it takes about 0.5 s of CPU.  Threads asking while it is built wait for that one build
    (a server loads it ahead of need on a worker thread: :func:`explainer_loaded` says when it is
    there)."""
    global _explainer
    if _explainer is None:
        with _EXPLAINER_LOCK:
            if _explainer is None:
                import xmlschema

                _explainer = xmlschema.XMLSchema10(str(xsd_path()), defuse="always")
    return _explainer


def explainer_loaded() -> bool:
    """Whether :func:`xmlschema_schema` returns at once (the model is built)."""
    return _explainer is not None


def schema_errors(root: etree._Element, limit: int) -> tuple[list[BxmlError], int]:
    """The XSD violations in ``root``: at most ``limit`` of them, and how many more were found.

    Both empty when the document is valid to the XSD.
    """
    if len(root) > _CHUNK:
        return _chunked(root, limit)
    schema = lxml_schema()
    if schema.validate(root):
        return [], 0
    log = list(schema.error_log)
    if _within_xmlschema_bounds(root, log):
        try:
            explained = _unique(_explain(root))
        except Exception:  # xmlschema only words the answer; libxml2's log can word it too
            explained = []
        if explained:
            return explained[:limit], max(0, len(explained) - limit)
    return _from_libxml(root, log, limit)


def schema_valid(root: etree._Element) -> bool:
    """libxml2's yes or no for the XSD; a root with many verbs is checked in parts (see
    :func:`_chunked`), stopping at the first part with a problem."""
    if len(root) <= _CHUNK:
        return bool(lxml_schema().validate(root))
    with closing(_invalid_chunks(root)) as invalid:
        return next(invalid, None) is None


def _chunked(root: etree._Element, limit: int) -> tuple[list[BxmlError], int]:
    """The problems of a root with many verbs, checked ``_CHUNK`` verbs at a time (a root takes
    any sequence of verbs, so the document is valid exactly when every part is).

    libxml2 spends time on each error in proportion to the element's siblings (it writes the
    element's path), so thousands of broken verbs side by side cost quadratic time in one pass;
    in parts they cost linear time.  Problems are worded once the verbs are back in place.
    """
    pending: list[tuple[etree._Element, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    unlisted = 0
    for start, wrapper, log in _invalid_chunks(root):
        found, more = _pending(wrapper, log, limit - len(pending), seen, f"{start}:")
        pending.extend((root if element is wrapper else element, m, k) for element, m, k in found)
        unlisted += more
    return [_libxml_error(*problem) for problem in pending], unlisted


def _invalid_chunks(root: etree._Element) -> Generator[tuple[int, etree._Element, list[Any]], None, None]:
    """``(offset, wrapper, libxml2 log)`` for each part of the root's verbs that is invalid.

    Each part's verbs are moved under a wrapper with the root's name, attributes and text (the
    first part's), checked, and moved back in place after the consumer has seen them, whatever
    happens (close the generator to stop early).
    """
    schema = lxml_schema()
    verbs = list(root)
    for start in range(0, len(verbs), _CHUNK):
        wrapper = etree.Element(root.tag, dict(root.attrib))
        if start == 0:
            wrapper.text = root.text
        chunk = verbs[start : start + _CHUNK]
        try:
            wrapper.extend(chunk)
            if not schema.validate(wrapper):
                yield start, wrapper, list(schema.error_log)
        finally:
            root[start:start] = chunk


def _within_xmlschema_bounds(root: etree._Element, log: list[Any]) -> bool:
    max_bytes, max_entries, max_elements, max_attributes = _XMLSCHEMA_BOUNDS
    if len(log) > max_entries or int(_COUNT_ELEMENTS(root)) > max_elements:
        return False
    if any(len(element.attrib) > max_attributes for element in root.iter()):
        return False
    return len(etree.tostring(root)) <= max_bytes


def _unique(errors: Iterable[BxmlError]) -> list[BxmlError]:
    seen: set[tuple[str, str, str]] = set()
    found: list[BxmlError] = []
    for error in errors:
        key = (error.rule, error.path, error.message)
        if key not in seen:
            seen.add(key)
            found.append(error)
    return found


# ---- xmlschema errors -> rules ------------------------------------------------------------
def _explain(root: etree._Element) -> Iterator[BxmlError]:
    seen_paths: set[tuple[str, str]] = set()
    for issue in xmlschema_schema().iter_errors(root.getroottree()):
        error = _classify(issue)
        if error is None:
            continue
        if error.rule == "unexpected-text":
            if (error.rule, error.path) in seen_paths:
                continue
            seen_paths.add((error.rule, error.path))
        yield error


def _classify(issue: Any) -> BxmlError | None:
    element = issue.elem if isinstance(getattr(issue, "elem", None), etree._Element) else None
    if element is None:
        return None
    name = type(issue).__name__
    validator = type(issue.validator).__name__
    reason = str(issue.reason or issue.message)
    decl = grammar().elements.get(element.tag) if isinstance(element.tag, str) else None
    if name == "XMLSchemaChildrenValidationError":
        return _children_error(issue, element, decl, reason)
    if "character data" in reason:
        return _at(element, "unexpected-text", f"<{element.tag}> may not contain text here")
    if validator == "XsdAttributeGroup":
        return _attribute_group_error(element, decl, reason)
    attribute = _ATTRIBUTE_REASON.match(reason)
    detail = _DETAILS.get(validator) or _ATTRIBUTE_REASON.sub("", reason).strip()
    if attribute is not None:
        attr_name = attribute.group(1)
        value = element.get(attr_name, "")
        rule = "attribute-range" if validator in _RANGE_FACETS else "attribute-value"
        allowed = _allowed(decl, attr_name)
        shown = _display(attr_name)
        return _at(element, rule, f"<{element.tag}> {shown}={_quote(value)} {detail}{allowed}")
    if decl is not None and decl.text is not None:
        text = (element.text or "").strip()
        allowed = f"; allowed: {decl.text.describe()}"
        if not text:
            return _at(element, "missing-text", f"<{element.tag}> needs text content{allowed}")
        return _at(element, "text-value", f"<{element.tag}> text {_quote(text)} {detail}{allowed}")
    if element.tag not in grammar().elements and element.getparent() is None:
        return _at(element, "wrong-root", f"<{element.tag}> is not a BXML root")
    return None  # not a shape this module names; the libxml2 log speaks if nothing else does


def _children_error(issue: Any, element: etree._Element, decl: ElementDecl | None, reason: str) -> BxmlError:
    index = getattr(issue, "index", None)
    upto = index + 1 if isinstance(index, int) else 0
    children = list(islice((c for c in element if isinstance(c.tag, str)), upto))
    if "not complete" in reason or not isinstance(index, int) or index >= len(children):
        low = decl.min_children if decl is not None else 1
        expected = ", ".join(decl.children) if decl is not None else "more children"
        return _at(
            element,
            "too-few-children",
            f"<{element.tag}> needs at least {low} of: {expected}",
        )
    child = children[index]
    return _unexpected_child(element, child, decl)


def _unexpected_child(parent: etree._Element, child: etree._Element, decl: ElementDecl | None) -> BxmlError:
    tag = child.tag if isinstance(child.tag, str) else str(child.tag)
    allowed = decl.children if decl is not None else ()
    if tag not in grammar().elements:
        hint = f"; <{parent.tag}> takes " + (", ".join(allowed) if allowed else "no elements")
        return _at(child, "unknown-element", f"<{tag}> is not a BXML element{hint}")
    if tag in allowed and decl is not None:
        return _at(
            child,
            "too-many-children",
            f"<{parent.tag}> takes at most {decl.max_children} of: {', '.join(allowed)}",
        )
    takes = ", ".join(allowed) if allowed else "no child elements"
    return _at(child, "forbidden-child", f"<{tag}> is not allowed inside <{parent.tag}> (it takes {takes})")


def _attribute_group_error(element: etree._Element, decl: ElementDecl | None, reason: str) -> BxmlError:
    quoted = re.search(r"'([^']+)'", reason)
    attr_name = quoted.group(1) if quoted else "?"
    if "missing" in reason or "required" in reason:
        allowed = _allowed(decl, attr_name)
        shown = _display(attr_name)
        return _at(element, "missing-attribute", f"<{element.tag}> needs attribute {shown}{allowed}")
    known = sorted(decl.attribute_names) if decl is not None else []
    hint = f"; known: {', '.join(known)}" if known else "; it takes no attributes"
    return _at(element, "unknown-attribute", f"<{element.tag}> has no attribute {attr_name!r}{hint}")


def _allowed(decl: ElementDecl | None, attr_name: str) -> str:
    attribute = decl.attribute(_clark(attr_name)) if decl is not None else None
    return f"; allowed: {attribute.type.describe()}" if attribute is not None else ""


def _quote(value: str, limit: int = 60) -> str:
    if len(value) <= limit:
        return repr(value)
    return repr(value[: limit - 20]) + f"... ({len(value)} characters)"


def _display(name: str) -> str:
    return name.replace("{http://www.w3.org/XML/1998/namespace}", "xml:")


def _clark(name: str) -> str:
    if name.startswith("xml:"):
        return "{http://www.w3.org/XML/1998/namespace}" + name[4:]
    return name


def _at(element: etree._Element, rule: str, message: str) -> BxmlError:
    return BxmlError(rule=rule, path=element_path(element), line=element.sourceline, message=message)


# ---- libxml2 log -> rules ----------------------------------------------------------------------
def _from_libxml(root: etree._Element, log: list[Any], limit: int) -> tuple[list[BxmlError], int]:
    """Translate libxml2's log: the first ``limit`` distinct problems, and the count of the rest."""
    found, unlisted = _pending(root, log, limit, set(), "")
    return [_libxml_error(*problem) for problem in found], unlisted


def _pending(
    root: etree._Element, log: list[Any], limit: int, seen: set[tuple[str, str, str]], scope: str
) -> tuple[list[tuple[etree._Element, str, str]], int]:
    """The first ``limit`` distinct problems of libxml2's log as (element, message, kind), and
    the count of the rest.

    Problems are told apart by the log alone (element path, attribute, kind).  ``seen`` carries
    the keys across chunks; paths below the root are told apart by ``scope`` (the chunk), the
    root's own problems are not.
    """
    tree = root.getroottree()
    found: list[tuple[etree._Element, str, str]] = []
    unlisted = 0
    for entry in log:
        if len(found) >= limit and str(entry.path).count("/") > 1:
            # Past the limit an entry below the root counts as one problem (libxml2 logs a
            # fault once, nearly always), without the cost of telling it apart.
            unlisted += 1
            continue
        message = str(entry.message)
        kind = str(entry.type_name)
        quoted = _LIBXML_QUOTED.search(message)
        path = str(entry.path)
        key = (
            path if path.count("/") <= 1 else scope + path,
            quoted.group(1) if quoted else "",
            _category(kind),
        )
        if key in seen:
            continue
        seen.add(key)
        if len(found) >= limit:
            unlisted += 1
            continue
        found.append((_element_at(tree, root, entry), message, kind))
    return found, unlisted


def _category(kind: str) -> str:
    """Log entries of one kind of fault share a category (a bad value may be logged twice)."""
    if kind in _LIBXML_DETAILS or kind.startswith(("SCHEMAV_CVC_DATATYPE", "SCHEMAV_CVC_ATTRIBUTE")):
        return "value"
    return kind


def _element_at(tree: Any, root: etree._Element, entry: Any) -> etree._Element:
    try:
        found = tree.xpath(entry.path) if entry.path else []
    except etree.XPathError:  # a prefix libxml2 printed that the XPath engine cannot resolve
        found = []
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    line = entry.line
    return next((e for e in root.iter() if e.sourceline == line), root)


def _libxml_error(element: etree._Element, message: str, kind: str) -> BxmlError:
    tag = element.tag if isinstance(element.tag, str) else str(element.tag)
    decl = grammar().elements.get(tag)
    if kind == "SCHEMAV_ELEMENT_CONTENT":
        parent = element.getparent()
        if "Missing child" in message or parent is None:
            low = decl.min_children if decl is not None else 1
            expected = ", ".join(decl.children) if decl is not None else "more children"
            return _at(element, "too-few-children", f"<{tag}> needs at least {low} of: {expected}")
        return _unexpected_child(parent, element, grammar().elements.get(str(parent.tag)))
    if kind == "SCHEMAV_CVC_ELT_1":
        return _at(element, "wrong-root", f"<{tag}> is not a BXML root")
    quoted = _LIBXML_QUOTED.search(message)
    if kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE_3_2") or kind == "SCHEMAV_CVC_COMPLEX_TYPE_4":
        name = quoted.group(1) if quoted else "?"
        missing = kind == "SCHEMAV_CVC_COMPLEX_TYPE_4"
        return _attribute_group_error(element, decl, f"'{name}' " + ("missing" if missing else "not allowed"))
    if kind == "SCHEMAV_CVC_COMPLEX_TYPE_2_2":
        child = next((c for c in element if isinstance(c.tag, str)), None)
        if child is not None:
            return _unexpected_child(element, child, decl)
    if kind.startswith("SCHEMAV_CVC_COMPLEX_TYPE_2"):
        return _at(element, "unexpected-text", f"<{tag}> may not contain text here")
    detail = _LIBXML_DETAILS.get(kind, "is not of the right type")
    attribute = _LIBXML_ATTRIBUTE.match(message)
    if attribute is not None:
        name = attribute.group(1)
        rule = "attribute-range" if kind in _LIBXML_RANGE else "attribute-value"
        value = element.get(_clark(name), "")
        return _at(element, rule, f"<{tag}> {_display(name)}={_quote(value)} {detail}{_allowed(decl, name)}")
    text = (element.text or "").strip()
    allowed = f"; allowed: {decl.text.describe()}" if decl is not None and decl.text is not None else ""
    if not text:
        return _at(element, "missing-text", f"<{tag}> needs text content{allowed}")
    return _at(element, "text-value", f"<{tag}> text {_quote(text)} {detail}{allowed}")
