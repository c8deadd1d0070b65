"""Named mutations: valid BXML broken on purpose, each break named by the rule it violates.

Every mutation starts from a document drawn from :func:`conformance.bxml.strategies.root_elements`
and changes one thing.  Which elements a mutation can target is read from the grammar (elements
with required attributes, bounded children, restricted values ...), so the catalogue follows the
XSD.  The validator must report the mutation's rule for every document produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]

from conformance.bxml.errors import BxmlArgumentError, Severity
from conformance.bxml.grammar import ElementDecl, SimpleType, grammar
from conformance.bxml.parsing import MAX_DEPTH, MAX_DOCUMENT_BYTES
from conformance.bxml.rules import MAX_GATHER_PROMPTS, WARNING_RULES, allowed_verbs, check_context
from conformance.bxml.strategies import element_trees, pad_to, root_elements, serialise
from conformance.bxml.validator import MAX_REPORTED

__all__ = ["MUTATIONS", "invalid_documents", "mutation_rules", "warning_documents"]

Mutation = Callable[[str], st.SearchStrategy[tuple[str, str]] | None]
_BAD_VALUES = ("not valid!", "??", "-1x", "x" * 3000, " ")
_BAD_TEXTS = ("not valid!", "??", "12345", "sip", "x" * 300)


def _chain(context: str, target: str) -> list[str] | None:
    """Shortest list of element names from a verb allowed in ``context`` down to ``target``."""
    g = grammar()
    frontier = [[verb] for verb in allowed_verbs(context)]
    seen: set[str] = set()
    while frontier:
        path = frontier.pop(0)
        if path[-1] == target:
            return path
        if path[-1] in seen:
            continue
        seen.add(path[-1])
        frontier.extend([*path, child] for child in g.element(path[-1]).children)
    return None


def _reachable(context: str) -> list[str]:
    return sorted(name for name in grammar().elements if _chain(context, name) is not None)


def _hosted(context: str, target: str) -> st.SearchStrategy[tuple[etree._Element, etree._Element]]:
    """A valid root holding a valid ``target`` element somewhere: ``(root, target)``."""
    chain = _chain(context, target)
    assert chain is not None
    links = [element_trees(name, depth) for depth, name in enumerate(chain, start=1)]
    roots = root_elements(context, max_verbs=2)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[etree._Element, etree._Element]:
        root = draw(roots)
        parent = root
        node = root
        for link in links:
            node = draw(link)
            siblings = [c for c in parent if isinstance(c.tag, str)]
            if parent is not root and siblings:
                # Inside a verb, take a generated child's place so child counts stay legal.
                parent.replace(siblings[0], node)
            else:
                parent.insert(draw(st.integers(0, len(parent))), node)
            parent = node
        return root, node

    return build()


def _document(root: etree._Element) -> str:
    return serialise(root, declaration=True, pretty=False)


def _over_targets(
    context: str,
    rule: str,
    targets: list[str],
    mutate: Callable[[st.DrawFn, etree._Element, ElementDecl], None],
) -> st.SearchStrategy[tuple[str, str]] | None:
    usable = [t for t in targets if _chain(context, t) is not None]
    if not usable:
        return None
    hosts = st.sampled_from(usable).flatmap(lambda name: _hosted(context, name))

    @st.composite
    def mutated(draw: st.DrawFn) -> tuple[str, str]:
        root, target = draw(hosts)
        mutate(draw, target, grammar().element(str(target.tag)))
        return _document(root), rule

    return mutated()


def _invalid(simple: SimpleType, candidates: Iterable[str]) -> list[str]:
    return [v for v in candidates if not simple.accepts(v)]


# ---- document-level mutations ----------------------------------------------------------------
def _document_level(
    context: str, rule: str, change: Callable[[str], str]
) -> st.SearchStrategy[tuple[str, str]]:
    return root_elements(context, max_verbs=3).map(lambda root: (change(_document(root)), rule))


def _malformed(context: str) -> st.SearchStrategy[tuple[str, str]]:
    return _document_level(context, "malformed-xml", lambda doc: doc.rstrip()[:-1])


def _too_large(context: str) -> st.SearchStrategy[tuple[str, str]]:
    return _document_level(context, "document-too-large", lambda doc: pad_to(doc, MAX_DOCUMENT_BYTES + 1))


def _dtd(context: str) -> st.SearchStrategy[tuple[str, str]]:
    doctype = '<!DOCTYPE Response [<!ENTITY greeting "hello">]>\n'
    return _document_level(context, "forbidden-dtd", lambda doc: doc.replace("?>\n", "?>\n" + doctype, 1))


def _wrong_root(context: str) -> st.SearchStrategy[tuple[str, str]]:
    names = st.sampled_from(("response", "Responses", "BXML", "Hangup", "Gather", "xml"))

    @st.composite
    def renamed(draw: st.DrawFn) -> tuple[str, str]:
        root = draw(root_elements(context, max_verbs=2))
        root.tag = draw(names)
        return _document(root), "wrong-root"

    return renamed()


def _too_deep(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def nest(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        node = target
        for _ in range(MAX_DEPTH + draw(st.integers(0, 4))):
            node = etree.SubElement(node, "s")
        node.text = "deep"

    return _over_targets(context, "too-deep", ["SpeakSentence"], nest)


# ---- structure ---------------------------------------------------------------------------------
def _unknown_element(context: str) -> st.SearchStrategy[tuple[str, str]]:
    names = st.from_regex(r"[A-Z][a-zA-Z]{2,12}", fullmatch=True).filter(
        lambda n: n not in grammar().elements
    )

    @st.composite
    def inserted(draw: st.DrawFn) -> tuple[str, str]:
        root = draw(root_elements(context, max_verbs=3))
        root.insert(draw(st.integers(0, len(root))), etree.Element(draw(names)))
        return _document(root), "unknown-element"

    return inserted()


def _forbidden_child(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def add(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        outsiders = sorted(
            n for n in grammar().elements if n not in decl.children and n not in grammar().roots
        )
        target.append(draw(element_trees(draw(st.sampled_from(outsiders)), 5)))

    parents = [n for n, d in grammar().elements.items() if d.text is None]
    nested = _over_targets(context, "forbidden-child", parents, add)
    root_decl = grammar().element(grammar().roots[0])
    strays = sorted(n for n in grammar().elements if n not in root_decl.children and n not in grammar().roots)
    children = st.sampled_from(strays).flatmap(lambda name: element_trees(name, 5))

    @st.composite
    def at_root(draw: st.DrawFn) -> tuple[str, str]:
        root = draw(root_elements(context, max_verbs=2))
        root.insert(draw(st.integers(0, len(root))), draw(children))
        return _document(root), "forbidden-child"

    return at_root() if nested is None else st.one_of(at_root(), nested)


def _too_many(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def fill(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        assert decl.max_children is not None
        child = st.sampled_from(decl.children).flatmap(element_trees)
        while len(target) <= decl.max_children:
            target.append(draw(child))

    bounded = [n for n, d in grammar().elements.items() if d.max_children is not None and d.children]
    return _over_targets(context, "too-many-children", bounded, fill)


def _too_few(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def empty(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        for child in list(target):
            target.remove(child)

    needy = [n for n, d in grammar().elements.items() if d.min_children > 0]
    return _over_targets(context, "too-few-children", needy, empty)


def _unexpected_text(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def stray(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        target.text = "stray words"

    no_text = [n for n, d in grammar().elements.items() if d.text is None and not d.mixed]
    return _over_targets(context, "unexpected-text", no_text, stray)


# ---- attributes -------------------------------------------------------------------------------
def _unknown_attribute(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def add(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        names = st.from_regex(r"[a-z][a-zA-Z]{2,14}", fullmatch=True).filter(
            lambda n: n not in decl.attribute_names
        )
        target.set(draw(names), "1")

    return _over_targets(context, "unknown-attribute", _reachable(context), add)


def _missing_attribute(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def drop(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        name = draw(st.sampled_from([a.name for a in decl.required_attributes]))
        del target.attrib[name]

    needy = [n for n, d in grammar().elements.items() if d.required_attributes]
    return _over_targets(context, "missing-attribute", needy, drop)


def _bad_attribute(rule: str, values: Callable[[SimpleType], list[str]]) -> Mutation:
    def spoil(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        options = [(a.name, values(a.type)) for a in decl.attributes if values(a.type)]
        name, bad = draw(st.sampled_from(options))
        target.set(name, draw(st.sampled_from(bad)))

    targets = [n for n, d in grammar().elements.items() if any(values(a.type) for a in d.attributes)]
    return lambda ctx: _over_targets(ctx, rule, targets, spoil)


def _bad_values(simple: SimpleType) -> list[str]:
    if not (
        simple.enumeration or simple.patterns or simple.numeric or simple.max_length or simple.min_length
    ):
        return []
    return _invalid(simple, _BAD_VALUES)


def _out_of_range(simple: SimpleType) -> list[str]:
    if not simple.numeric:
        return []
    step = Decimal(1) if simple.base == "integer" else Decimal("0.5")
    found = []
    if simple.max_inclusive is not None:
        found.append(simple.max_inclusive + step)
    if simple.max_exclusive is not None:
        found.append(simple.max_exclusive)
    if simple.min_inclusive is not None:
        found.append(simple.min_inclusive - step)
    if simple.min_exclusive is not None:
        found.append(simple.min_exclusive)
    return _invalid(simple, [format(v, "f") for v in found])


# ---- text -------------------------------------------------------------------------------------
def _missing_text(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def blank(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        for child in list(target):
            if child.tag == "break":
                child.tail = None  # a pause alone is still nothing to say
            else:
                target.remove(child)
        target.text = draw(st.sampled_from(("", " ", "\n  ")))

    needy = [n for n, d in grammar().elements.items() if d.requires_text] + ["SpeakSentence"]
    return _over_targets(context, "missing-text", needy, blank)


def _text_value(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def spoil(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        assert decl.text is not None
        target.text = draw(st.sampled_from(_invalid(decl.text, _BAD_TEXTS)))

    typed = [n for n, d in grammar().elements.items() if d.text is not None and _invalid(d.text, _BAD_TEXTS)]
    return _over_targets(context, "text-value", typed, spoil)


# ---- code rules -------------------------------------------------------------------------------
def _context_forbidden(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    banned = sorted(set(grammar().verbs) - set(allowed_verbs(context)))
    if not banned:
        return None
    verbs = st.sampled_from(banned).flatmap(lambda v: element_trees(v, 1))

    @st.composite
    def inserted(draw: st.DrawFn) -> tuple[str, str]:
        root = draw(root_elements(context, max_verbs=2))
        root.insert(draw(st.integers(0, len(root))), draw(verbs))
        return _document(root), "context-forbidden"

    return inserted()


def _repeat_count(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def overflow(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        prompts = draw(st.integers(2, 6))
        child = st.sampled_from(decl.children).flatmap(element_trees)
        while len(target) < prompts:
            target.append(draw(child))
        count = len(target)
        target.set("repeatCount", str(draw(st.integers(MAX_GATHER_PROMPTS // count + 1, MAX_GATHER_PROMPTS))))

    return _over_targets(context, "repeat-count-limit", ["Gather"], overflow)


def _set(**attributes: str) -> Callable[[st.DrawFn, etree._Element, ElementDecl], None]:
    def apply(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        for name, value in attributes.items():
            if value:
                target.set(name, value)
            elif name in target.attrib:
                del target.attrib[name]

    return apply


def _diversion(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    change = _set(diversionReason="user-busy", diversionTreatment="propagate")
    return _over_targets(context, "diversion-reason-without-stack", ["Forward", "Transfer"], change)


def _stabilized(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    change = _set(stabilized="true", destination="")
    return _over_targets(context, "stabilized-without-destination", ["StartTranscription"], change)


def _https(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def change(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        url_attributes = sorted(a.name for a in decl.attributes if a.name.endswith("Url"))
        target.set(draw(st.sampled_from(url_attributes)), "http://example.com/plain")
        target.set("username", "user")

    return _over_targets(context, "credentials-need-https", ["Record", "StartStream"], change)


def _start_gather_forward(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    allowed = allowed_verbs(context)
    if "StartGather" not in allowed or "Forward" not in allowed:
        return None
    pair = st.tuples(element_trees("StartGather", 1), element_trees("Forward", 1))

    @st.composite
    def both(draw: st.DrawFn) -> tuple[str, str]:
        root = draw(root_elements(context, max_verbs=2))
        start, forward = draw(pair)
        root.append(start)
        root.append(forward)
        return _document(root), "start-gather-with-forward"

    return both()


def _too_many_problems(context: str) -> st.SearchStrategy[tuple[str, str]] | None:
    def flood(draw: st.DrawFn, target: etree._Element, decl: ElementDecl) -> None:
        names = [f"x{number}" for number in range(MAX_REPORTED + draw(st.integers(1, 40)))]
        for name in names:
            if name not in decl.attribute_names:
                target.set(name, "1")

    return _over_targets(context, "too-many-problems", _reachable(context), flood)


MUTATIONS: dict[str, Mutation] = {
    "malformed-xml": _malformed,
    "document-too-large": _too_large,
    "forbidden-dtd": _dtd,
    "too-deep": _too_deep,
    "wrong-root": _wrong_root,
    "unknown-element": _unknown_element,
    "forbidden-child": _forbidden_child,
    "too-many-children": _too_many,
    "too-few-children": _too_few,
    "unexpected-text": _unexpected_text,
    "unknown-attribute": _unknown_attribute,
    "missing-attribute": _missing_attribute,
    "attribute-value": _bad_attribute("attribute-value", _bad_values),
    "attribute-range": _bad_attribute("attribute-range", _out_of_range),
    "missing-text": _missing_text,
    "text-value": _text_value,
    "context-forbidden": _context_forbidden,
    "repeat-count-limit": _repeat_count,
    "diversion-reason-without-stack": _diversion,
    "stabilized-without-destination": _stabilized,
    "credentials-need-https": _https,
    "start-gather-with-forward": _start_gather_forward,
    "too-many-problems": _too_many_problems,
}


def mutation_rules(context: str = "call", severity: Severity = "error") -> tuple[str, ...]:
    """Rules of ``severity`` that :func:`invalid_documents` (errors) or :func:`warning_documents`
    (warnings) can break in ``context``."""
    check_context(context)
    return tuple(
        rule
        for rule, make in MUTATIONS.items()
        if (rule in WARNING_RULES) == (severity == "warning") and make(context) is not None
    )


def invalid_documents(
    context: str = "call", rules: Iterable[str] | None = None
) -> st.SearchStrategy[tuple[str, str]]:
    """``(document, rule)`` pairs for ``context``, each breaking an error rule: documents the
    platform must refuse.  ``rules`` narrows which mutations run; naming a warning rule is a
    :class:`BxmlArgumentError` (``warning-rule``): see :func:`warning_documents`."""
    return _broken(context, rules, "error")


def warning_documents(
    context: str = "call", rules: Iterable[str] | None = None
) -> st.SearchStrategy[tuple[str, str]]:
    """``(document, rule)`` pairs for ``context``, each breaking only a warning rule: documents
    the platform accepts, which the validator reports as warnings."""
    return _broken(context, rules, "warning")


def _broken(
    context: str, rules: Iterable[str] | None, severity: Severity
) -> st.SearchStrategy[tuple[str, str]]:
    check_context(context)
    wanted = [r for r in MUTATIONS if (r in WARNING_RULES) == (severity == "warning")]
    names = tuple(wanted) if rules is None else tuple(rules)
    unknown = [r for r in names if r not in MUTATIONS]
    if unknown:
        message = f"no mutation for rule(s): {', '.join(unknown)} (known: {', '.join(MUTATIONS)})"
        raise BxmlArgumentError(message, reason="unknown-rule")
    other = [r for r in names if r not in wanted]
    if other:
        kind = "warning" if severity == "error" else "error"
        message = f"{', '.join(other)}: {kind} rule(s); the platform " + (
            "accepts such documents, so they are not invalid" if kind == "warning" else "refuses those"
        )
        raise BxmlArgumentError(message, reason=f"{kind}-rule")
    strategies = [s for s in (MUTATIONS[r](context) for r in names) if s is not None]
    if not strategies:
        message = f"none of {', '.join(names)} can be broken in {context} BXML"
        raise BxmlArgumentError(message, reason="rule-not-in-context")
    return st.one_of(strategies)
