"""The BXML grammar read from ``xsd/bxml.xsd`` into plain Python records.

The XSD is the one source of truth.  Validation uses it directly (lxml, xmlschema); this module
reads the same files into :class:`Grammar` so that the code beside the XSD (error explanations,
the hypothesis strategies) never keeps a second, hand-written list of verbs and attributes.

Only the conventions stated at the top of ``bxml.xsd`` are understood; anything else raises
:class:`GrammarError`, so a change to the XSD that this reader would misread fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import GrammarError
from conformance.resources import xsd_path

__all__ = [
    "AttributeDecl",
    "ElementDecl",
    "Grammar",
    "SimpleType",
    "grammar",
    "python_pattern",
]

_XS = "{http://www.w3.org/2001/XMLSchema}"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"

_BUILTINS = {"string", "token", "anyURI", "decimal", "integer", "language"}
_COLLAPSED = {"token", "anyURI", "decimal", "integer", "language"}
_LANGUAGE = r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*"
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_XML_SPACES = re.compile(r"[ \t\n\r]+")
# XSD's \s is only the four XML space characters; Python's is Unicode-wide.
_XSD_CLASS_ESCAPES = {r"\s": r"[ \t\n\r]", r"\S": r"[^ \t\n\r]"}
_ESCAPE = re.compile(r"\\.")


def python_pattern(pattern: str) -> str:
    """An XSD pattern (from this grammar's subset) as an equivalent Python regex."""
    return _ESCAPE.sub(lambda m: _XSD_CLASS_ESCAPES.get(m.group(0), m.group(0)), pattern)


@dataclass(frozen=True)
class SimpleType:
    """A named simple type: a built-in ``base`` narrowed by facets."""

    name: str
    base: str
    enumeration: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    min_inclusive: Decimal | None = None
    max_inclusive: Decimal | None = None
    min_exclusive: Decimal | None = None
    max_exclusive: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)

    @property
    def numeric(self) -> bool:
        return self.base in {"decimal", "integer"}

    @property
    def collapses_whitespace(self) -> bool:
        return self.base in _COLLAPSED

    def normalise(self, value: str) -> str:
        """The value as a validator sees it (whitespace collapsed for token-like types)."""
        return _XML_SPACES.sub(" ", value).strip(" ") if self.collapses_whitespace else value

    def accepts(self, value: str) -> bool:
        """Whether ``value`` is in this type (the Python reading of the XSD facets)."""
        value = self.normalise(value)
        if self.enumeration and value not in self.enumeration:
            return False
        if not all(p.fullmatch(value) for p in self._compiled):
            return False
        if self.min_length is not None and len(value) < self.min_length:
            return False
        if self.max_length is not None and len(value) > self.max_length:
            return False
        if self.base == "language" and not re.fullmatch(_LANGUAGE, value):
            return False
        if self.numeric:
            return self._accepts_number(value)
        return True

    def _accepts_number(self, value: str) -> bool:
        shape = _INTEGER if self.base == "integer" else _DECIMAL
        if not shape.fullmatch(value):
            return False
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - guarded by the regex
            return False
        if self.min_inclusive is not None and number < self.min_inclusive:
            return False
        if self.max_inclusive is not None and number > self.max_inclusive:
            return False
        if self.min_exclusive is not None and number <= self.min_exclusive:
            return False
        return not (self.max_exclusive is not None and number >= self.max_exclusive)

    def describe(self) -> str:
        """What is allowed, in a few words (for error messages)."""
        if self.enumeration:
            return "one of " + ", ".join(repr(v) for v in self.enumeration)
        parts: list[str] = []
        if self.numeric:
            low = self.min_inclusive if self.min_inclusive is not None else self.min_exclusive
            high = self.max_inclusive if self.max_inclusive is not None else self.max_exclusive
            kind = "an integer" if self.base == "integer" else "a number"
            if low is not None and high is not None:
                lo_br = "[" if self.min_inclusive is not None else "("
                hi_br = "]" if self.max_inclusive is not None else ")"
                parts.append(f"{kind} in {lo_br}{low}, {high}{hi_br}")
            elif low is not None:
                parts.append(f"{kind} {'>=' if self.min_inclusive is not None else '>'} {low}")
            elif high is not None:
                parts.append(f"{kind} {'<=' if self.max_inclusive is not None else '<'} {high}")
            else:
                parts.append(kind)
        if self.patterns:
            parts.append("matching the pattern " + " and ".join(self.patterns))
        if self.min_length is not None and self.max_length is not None:
            parts.append(f"{self.min_length} to {self.max_length} characters")
        elif self.max_length is not None:
            parts.append(f"at most {self.max_length} characters")
        elif self.min_length is not None:
            parts.append(f"at least {self.min_length} characters")
        if not parts:
            parts.append("any text" if self.base == "string" else f"an xs:{self.base}")
        return f"{self.name}: " + ", ".join(parts)


@dataclass(frozen=True)
class AttributeDecl:
    name: str  # Clark notation for namespaced names: {http://www.w3.org/XML/1998/namespace}lang
    type: SimpleType
    required: bool


@dataclass(frozen=True)
class ElementDecl:
    """An element: its attributes, which children it takes and how many, and its text."""

    name: str
    type_name: str
    attributes: tuple[AttributeDecl, ...]
    children: tuple[str, ...]
    min_children: int
    max_children: int | None
    text: SimpleType | None
    mixed: bool

    def attribute(self, name: str) -> AttributeDecl | None:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    @property
    def attribute_names(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attributes)

    @property
    def required_attributes(self) -> tuple[AttributeDecl, ...]:
        return tuple(a for a in self.attributes if a.required)

    @property
    def requires_text(self) -> bool:
        return self.text is not None and not self.text.accepts("")


@dataclass(frozen=True)
class Grammar:
    roots: tuple[str, ...]
    elements: dict[str, ElementDecl]
    types: dict[str, SimpleType]

    @property
    def verbs(self) -> tuple[str, ...]:
        """Every verb: the elements a root may contain, in grammar order."""
        return self.elements[self.roots[0]].children

    def element(self, name: str) -> ElementDecl:
        return self.elements[name]


class _Reader:
    def __init__(self, entry: Path) -> None:
        self.simple: dict[str, etree._Element] = {}
        self.complex: dict[str, etree._Element] = {}
        self.groups: dict[str, etree._Element] = {}
        self.attribute_groups: dict[str, etree._Element] = {}
        self.global_attributes: dict[str, etree._Element] = {}
        self.global_elements: list[etree._Element] = []
        self._types: dict[str, SimpleType] = {}
        self._seen: set[Path] = set()
        self._load(entry, is_entry=True)

    def _load(self, path: Path, *, is_entry: bool = False) -> None:
        path = path.resolve()
        if path in self._seen:
            return
        self._seen.add(path)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.parse(str(path), parser).getroot()
        namespace = root.get("targetNamespace")
        for node in root:
            if not isinstance(node.tag, str):
                continue
            tag, name = node.tag, node.get("name", "")
            if tag in (f"{_XS}include", f"{_XS}import"):
                self._load(path.parent / node.get("schemaLocation", ""))
            elif tag == f"{_XS}simpleType":
                self.simple[name] = node
            elif tag == f"{_XS}complexType":
                self.complex[name] = node
            elif tag == f"{_XS}group":
                self.groups[name] = node
            elif tag == f"{_XS}attributeGroup":
                self.attribute_groups[name] = node
            elif tag == f"{_XS}attribute":
                self.global_attributes[f"{{{namespace}}}{name}" if namespace else name] = node
            elif tag == f"{_XS}element" and is_entry:
                self.global_elements.append(node)

    # ---- simple types -------------------------------------------------------------------
    def simple_type(self, ref: str) -> SimpleType:
        if ref.startswith("xs:"):
            base = ref[3:]
            if base not in _BUILTINS:
                raise GrammarError(f"built-in type {ref} is not supported")
            return SimpleType(name=ref, base=base)
        cached = self._types.get(ref)
        if cached is not None:
            return cached
        node = self.simple.get(ref)
        if node is None:
            raise GrammarError(f"unknown simple type {ref!r}")
        restriction = node.find(f"{_XS}restriction")
        if restriction is None:
            raise GrammarError(f"simple type {ref!r} must be an xs:restriction")
        parent = self.simple_type(restriction.get("base", ""))
        facets: dict[str, list[str]] = {}
        for facet in restriction:
            if isinstance(facet.tag, str):
                facets.setdefault(etree.QName(facet).localname, []).append(facet.get("value", ""))
        patterns = parent.patterns + tuple(facets.get("pattern", ()))
        result = SimpleType(
            name=ref,
            base=parent.base,
            enumeration=tuple(facets.get("enumeration", ())) or parent.enumeration,
            patterns=patterns,
            min_inclusive=_number(facets, "minInclusive", parent.min_inclusive),
            max_inclusive=_number(facets, "maxInclusive", parent.max_inclusive),
            min_exclusive=_number(facets, "minExclusive", parent.min_exclusive),
            max_exclusive=_number(facets, "maxExclusive", parent.max_exclusive),
            min_length=_integer(facets, "minLength", parent.min_length),
            max_length=_integer(facets, "maxLength", parent.max_length),
            _compiled=tuple(re.compile(python_pattern(p)) for p in patterns),
        )
        unknown = set(facets) - {
            "enumeration", "pattern", "minInclusive", "maxInclusive", "minExclusive",
            "maxExclusive", "minLength", "maxLength",
        }  # fmt: skip
        if unknown:
            raise GrammarError(f"simple type {ref!r} uses unsupported facets {sorted(unknown)}")
        self._types[ref] = result
        return result

    # ---- attributes ---------------------------------------------------------------------
    def attributes(self, container: etree._Element) -> list[AttributeDecl]:
        found: list[AttributeDecl] = []
        for node in container:
            if node.tag == f"{_XS}attribute":
                found.append(self._attribute(node))
            elif node.tag == f"{_XS}attributeGroup":
                group = self.attribute_groups.get(node.get("ref", ""))
                if group is None:
                    raise GrammarError(f"unknown attribute group {node.get('ref')!r}")
                found.extend(self.attributes(group))
        return found

    def _attribute(self, node: etree._Element) -> AttributeDecl:
        required = node.get("use") == "required"
        ref = node.get("ref")
        if ref is not None:
            prefix, _, local = ref.partition(":")
            name = f"{{{XML_NAMESPACE}}}{local}" if prefix == "xml" else ref
            target = self.global_attributes.get(name)
            if target is None:
                raise GrammarError(f"unknown global attribute {ref!r}")
            return AttributeDecl(name, self.simple_type(target.get("type", "")), required)
        return AttributeDecl(node.get("name", ""), self.simple_type(node.get("type", "")), required)

    # ---- complex types ------------------------------------------------------------------
    def element_decl(self, name: str, type_name: str) -> tuple[ElementDecl, list[tuple[str, str]]]:
        node = self.complex.get(type_name)
        if node is None:
            raise GrammarError(f"element {name!r}: unknown complex type {type_name!r}")
        parts = {etree.QName(child).localname for child in node if isinstance(child.tag, str)}
        unsupported = parts - {"simpleContent", "choice", "attribute", "attributeGroup", "annotation"}
        if unsupported:
            raise GrammarError(f"complex type {type_name!r} uses unsupported {sorted(unsupported)}")
        mixed = node.get("mixed") == "true"
        simple_content = node.find(f"{_XS}simpleContent")
        if simple_content is not None:
            extension = simple_content.find(f"{_XS}extension")
            if extension is None:
                raise GrammarError(f"{type_name}: simpleContent must be an xs:extension")
            text = self.simple_type(extension.get("base", ""))
            decl = ElementDecl(name, type_name, tuple(self.attributes(extension)), (), 0, 0, text, False)
            return decl, []
        choice = node.find(f"{_XS}choice")
        children: list[tuple[str, str]] = []
        low, high = 0, 0
        if choice is not None:
            low = int(choice.get("minOccurs", "1"))
            raw_high = choice.get("maxOccurs", "1")
            high = -1 if raw_high == "unbounded" else int(raw_high)
            children = self._choice_members(choice)
        decl = ElementDecl(
            name=name,
            type_name=type_name,
            attributes=tuple(self.attributes(node)),
            children=tuple(child for child, _ in children),
            min_children=low,
            max_children=None if high == -1 else high,
            text=None,
            mixed=mixed,
        )
        return decl, children

    def _choice_members(self, choice: etree._Element) -> list[tuple[str, str]]:
        members: list[tuple[str, str]] = []
        for node in choice:
            if not isinstance(node.tag, str):
                continue
            if node.get("minOccurs", "1") != "1" or node.get("maxOccurs", "1") != "1":
                raise GrammarError("occurrence limits belong on the xs:choice, not its members")
            if node.tag == f"{_XS}element":
                members.append((node.get("name", ""), node.get("type", "")))
            elif node.tag == f"{_XS}group":
                group = self.groups.get(node.get("ref", ""))
                inner = None if group is None else group.find(f"{_XS}choice")
                if inner is None:
                    raise GrammarError(f"group {node.get('ref')!r} must hold one xs:choice")
                members.extend(self._choice_members(inner))
            elif node.tag != f"{_XS}annotation":
                raise GrammarError(f"unsupported particle {node.tag}")
        return members


def _number(facets: dict[str, list[str]], key: str, default: Decimal | None) -> Decimal | None:
    values = facets.get(key)
    return Decimal(values[0]) if values else default


def _integer(facets: dict[str, list[str]], key: str, default: int | None) -> int | None:
    values = facets.get(key)
    return int(values[0]) if values else default


def read_grammar(path: Path) -> Grammar:
    """Read the XSD at ``path`` (and what it includes) into a :class:`Grammar`."""
    reader = _Reader(path)
    elements: dict[str, ElementDecl] = {}
    roots: list[str] = []
    pending: list[tuple[str, str]] = []
    for node in reader.global_elements:
        roots.append(node.get("name", ""))
        pending.append((node.get("name", ""), node.get("type", "")))
    while pending:
        name, type_name = pending.pop()
        existing = elements.get(name)
        if existing is not None:
            if existing.type_name != type_name:
                raise GrammarError(f"element {name!r} has two types: {existing.type_name}, {type_name}")
            continue
        decl, children = reader.element_decl(name, type_name)
        elements[name] = decl
        pending.extend(children)
    if not roots:
        raise GrammarError(f"{path} declares no root element")
    types = {name: reader.simple_type(name) for name in reader.simple}
    return Grammar(roots=tuple(roots), elements=elements, types=types)


@cache
def grammar() -> Grammar:
    """The packaged BXML grammar (read once)."""
    return read_grammar(xsd_path())
