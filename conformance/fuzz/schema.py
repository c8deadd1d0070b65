"""Walk a JSON Schema (2020-12, refs already inlined) into a hypothesis strategy.

Leaves are filled by realistic generators chosen by field name (:data:`fields.FIELD_VALUES`) or by
``format`` (:data:`fields.FORMAT_VALUES`); a realistic value is kept only when it satisfies the
leaf's own schema, so the contract always wins over the guess.  Optional properties are generated
present and absent; ``type: [..., "null"]`` yields ``None`` too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any, TypeVar

from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from conformance.errors import ConformanceError
from conformance.fuzz import fields, values

T = TypeVar("T")
R = TypeVar("R")

# Keywords that constrain a leaf value beyond its type; when present, a realistic guess is checked.
_LEAF_CONSTRAINTS = frozenset(
    {"pattern", "minLength", "maxLength", "format", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum", "multipleOf", "not", "minProperties", "maxProperties", "propertyNames"}
)  # fmt: skip


class UnsupportedSchemaError(ConformanceError, ValueError):
    """A webhook schema uses a construct the payload generator cannot honour."""

    reason = "unsupported-schema"


def merge_all_of(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Fold ``allOf`` parts into one schema (properties and required lists are unioned)."""
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", []):
        flat = merge_all_of(part)
        for key, value in flat.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    if "properties" in schema or "additionalProperties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return ["string"]


def _checked(
    strategy: st.SearchStrategy[Any],
    schema: Mapping[str, Any],
    factory: Callable[[], st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """``strategy`` kept to what ``schema`` accepts; unfiltered when nothing beyond the type is
    constrained, or only a format that ``factory``'s values satisfy by construction."""
    constraints = _LEAF_CONSTRAINTS.intersection(schema)
    if not constraints:
        return strategy
    guaranteed = fields.FORMATS.get(factory, frozenset()) if factory is not None else frozenset()
    if constraints == {"format"} and schema["format"] in guaranteed:
        return strategy
    validator = Draft202012Validator(dict(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return strategy.filter(validator.is_valid)


class SchemaStrategies:
    """Builds strategies from schemas; ``overrides`` maps a field name to a strategy factory."""

    def __init__(
        self,
        overrides: Mapping[str, Callable[[], st.SearchStrategy[Any]]] | None = None,
        formats: Mapping[str, Callable[[], st.SearchStrategy[str]]] | None = None,
        fixed: Mapping[str, str] | None = None,
    ) -> None:
        self.overrides = dict(fields.FIELD_VALUES if overrides is None else overrides)
        self.formats = dict(fields.FORMAT_VALUES if formats is None else formats)
        # top-level string properties drawn as one given value (the caller rewrites them anyway)
        self.fixed = dict(fixed or {})
        # id of a strategy -> (the strategy, kept alive; every value it draws, in order)
        self._values: dict[int, tuple[st.SearchStrategy[Any], tuple[Any, ...]]] = {}
        # id of an object's strategy -> (the strategy, kept alive; its fields' strategies; its record)
        self._records: dict[int, tuple[st.SearchStrategy[Any], list[st.SearchStrategy[Any]], _Record]] = {}

    def _register(self, strategy: st.SearchStrategy[Any], options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
        self._values[id(strategy)] = (strategy, options)
        return strategy

    def _listed(self, options: tuple[Any, ...]) -> st.SearchStrategy[Any]:
        """One of a few known values, drawn in one layer (``one_of`` costs three: itself, a
        ``sampled_from`` of its branches and the branch); shrinks towards the first."""
        return self._register(st.sampled_from(options), options)

    def _maybe(self, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """An optional property, absent when shrunk: with listed values, present about two times
        in three; otherwise absence is one more branch beside the value's own (``one_of`` flattens
        nested ``one_of``s and counts a branch given twice once, so it cannot be weighted by
        repeating the value)."""
        entry = self._values.get(id(strategy))
        if entry is None:
            return st.one_of(st.just(_ABSENT), strategy)
        options = entry[1]
        return self._listed((_ABSENT,) * len(options) + options * 2)

    def build(self, schema: Mapping[str, Any] | bool, name: str | None = None) -> st.SearchStrategy[Any]:
        """A strategy for values of ``schema``; ``name`` is the property it fills, if any."""
        if schema is False:
            raise UnsupportedSchemaError(f"schema for {name or 'value'} allows nothing")
        if schema is True or schema == {}:
            return st.none() | st.booleans() | st.integers() | values.free_text()
        if not isinstance(schema, Mapping):
            raise UnsupportedSchemaError(f"schema for {name or 'value'} is not an object")
        if "allOf" in schema:
            return self.build(merge_all_of(schema), name)
        if "const" in schema:
            return self._listed((schema["const"],))
        if "enum" in schema:
            return self._listed(tuple(schema["enum"]))
        for key in ("oneOf", "anyOf"):
            if key in schema:
                base = {k: v for k, v in schema.items() if k != key}
                # each branch is the shared part plus the branch (required lists and properties unioned)
                options = [
                    self.build(merge_all_of({**base, "allOf": [*base.get("allOf", []), part]}), name)
                    for part in schema[key]
                ]
                if key == "anyOf" and all(_adds_only(base, part) for part in schema[key]):
                    # each branch's values satisfy the base and that branch, hence the anyOf
                    return st.one_of(options)
                validator = Draft202012Validator(dict(schema))
                return st.one_of(options).filter(validator.is_valid)
        types = _types(schema)
        options = [self._typed(t, schema, name) for t in types if t != "null"]
        if "null" in types:
            # null is an edge case: one in four of listed values (one layer, see _listed); else one
            # more branch beside the values' own (repeating a branch in one_of does not weigh it)
            listed = [self._values.get(id(option)) for option in options]
            if options and all(entry is not None for entry in listed):
                flat = tuple(value for entry in listed if entry is not None for value in entry[1])
                return self._listed(flat * 3 + (None,) * len(flat))
            options = [*options, st.none()]
        if not options:
            raise UnsupportedSchemaError(f"schema for {name or 'value'} allows no type")
        return st.one_of(options)

    def _typed(self, kind: str, schema: Mapping[str, Any], name: str | None) -> st.SearchStrategy[Any]:
        if kind == "object":
            return self._object(schema, name)
        if kind == "array":
            return self._array(schema, name)
        if kind == "string" and name in self.fixed:
            return self._listed((self.fixed[name],))
        factory = self._override(name)
        if factory is not None and kind in {"string", "integer"}:
            return self._guess(factory, kind, schema)
        return self._generic(kind, schema, name)

    def _guess(
        self, factory: Callable[[], st.SearchStrategy[Any]], kind: str, schema: Mapping[str, Any]
    ) -> st.SearchStrategy[Any]:
        """The realistic generator, kept to what the leaf schema accepts (see ``fields.SAMPLES``).

        Every layer of a strategy (a ``.filter`` too) costs a draw of its own, about 14 us, so a
        check that can be made once on the generator's declared type, its full list of values
        (``fields.EXACT``) or the formats it guarantees (``fields.FORMATS``) is not made per value."""
        leaf = {**schema, "type": kind}
        declared = fields.KINDS.get(factory)
        if declared is not None and declared != kind:
            return self._generic(kind, schema, None)
        exact = fields.EXACT.get(factory)
        samples = exact if exact is not None else fields.SAMPLES.get(factory)
        guess = factory() if declared == kind else factory().filter(lambda v: _is_type(v, kind))
        if samples is None or not _LEAF_CONSTRAINTS.intersection(leaf):
            if exact is not None and declared == kind:
                return self._register(guess, exact)
            return _checked(guess, leaf, factory)
        validator = Draft202012Validator(leaf, format_checker=Draft202012Validator.FORMAT_CHECKER)
        accepted = [sample for sample in samples if _is_type(sample, kind) and validator.is_valid(sample)]
        if len(accepted) == len(samples):
            return self._register(guess, exact) if exact is not None else _checked(guess, leaf, factory)
        generic = self._generic(kind, schema, None)
        if not accepted:
            return generic
        return st.one_of(st.sampled_from(accepted), generic)

    def _generic(self, kind: str, schema: Mapping[str, Any], name: str | None) -> st.SearchStrategy[Any]:
        if kind == "string":
            return self._string(schema)
        if kind in {"integer", "number"}:
            return self._number(kind, schema)
        if kind == "boolean":
            return self._register(st.booleans(), (False, True))
        raise UnsupportedSchemaError(f"unsupported type {kind!r} for {name or 'value'}")

    def _override(self, name: str | None) -> Callable[[], st.SearchStrategy[Any]] | None:
        """The realistic generator for a (dotted) field name: the full name first, then its last part."""
        if name is None:
            return None
        return self.overrides.get(name) or self.overrides.get(name.rsplit(".", 1)[-1])

    def _string(self, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in self.formats:
            factory = self.formats[fmt]
            return _checked(factory(), schema, factory)
        if "pattern" in schema:
            pattern = st.from_regex(schema["pattern"])
            return _checked(pattern, schema)
        return st.text(
            st.characters(codec="utf-8"),
            min_size=int(schema.get("minLength", 0)),
            max_size=int(schema.get("maxLength", 64)),
        )

    def _number(self, kind: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        low = schema.get("minimum")
        high = schema.get("maximum")
        if kind == "integer":
            low_i = None if low is None else math.ceil(low)
            high_i = None if high is None else math.floor(high)
            return _checked(st.integers(low_i, high_i), schema)
        return _checked(st.floats(low, high, allow_nan=False, allow_infinity=False), schema)

    def _array(self, schema: Mapping[str, Any], name: str | None) -> st.SearchStrategy[Any]:
        items = schema.get("items", {})
        return st.lists(
            self.build(items, name),
            min_size=int(schema.get("minItems", 0)),
            max_size=int(schema.get("maxItems", 4)),
            unique_by=(lambda v: repr(v)) if schema.get("uniqueItems") else None,
        )

    def _object(self, schema: Mapping[str, Any], name: str | None) -> st.SearchStrategy[Any]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        factory = self._override(name)
        if not properties and factory is not None:
            return _checked(factory(), schema, factory)
        required = set(schema.get("required", []))

        def sub(key: str) -> st.SearchStrategy[Any]:
            return self.build(properties[key], f"{name}.{key}" if name else key)

        missing = required - set(properties)
        if missing:
            raise UnsupportedSchemaError(f"required {sorted(missing)} have no schema in {name or 'object'}")
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, Mapping):
            keys = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=16)
            return st.dictionaries(keys, self.build(extra), max_size=4)
        # Required constants are not drawn at all; the rest are drawn as one tuple.  (Not
        # ``fixed_dictionaries``: it also draws a shuffle of the keys, one choice per field, and
        # key order means nothing in JSON.)
        constants: dict[str, Any] = {}
        drawn: dict[str, st.SearchStrategy[Any]] = {}
        for key in properties:
            path = f"{name}.{key}" if name else key
            known, value = self._constant(properties[key], path)
            if known and key in required:
                constants[key] = value
            else:
                drawn[key] = sub(key) if key in required else self._maybe(sub(key))
        record = _Record(list(properties), constants, list(drawn))
        strategy = st.tuples(*drawn.values()).map(record)
        self._records[id(strategy)] = (strategy, list(drawn.values()), record)
        return strategy

    def build_with(
        self,
        schema: Mapping[str, Any],
        extra: st.SearchStrategy[T],
        finish: Callable[[Any, T], R],
    ) -> st.SearchStrategy[R]:
        """``finish(value, other)`` for a value of ``schema`` and one of ``extra``.  An object's
        fields and ``extra`` are drawn as one tuple: two layers fewer than a tuple of the object
        and ``extra``, mapped."""
        built = self.build(schema)
        record = self._records.get(id(built))
        if record is None:
            return st.tuples(built, extra).map(lambda pair: finish(pair[0], pair[1]))
        fields, make = record[1], record[2]
        return st.tuples(*fields, extra).map(lambda drawn: finish(make(drawn[:-1]), drawn[-1]))

    def _constant(self, schema: Any, name: str) -> tuple[bool, Any]:
        """Whether :meth:`build` gives ``schema`` exactly one value, and that value."""
        if not isinstance(schema, Mapping) or "allOf" in schema:
            return False, None
        if "const" in schema:
            return True, schema["const"]
        if "enum" in schema:
            options = list(schema["enum"])
            return (True, options[0]) if len(options) == 1 else (False, None)
        if name in self.fixed and not {"oneOf", "anyOf"} & set(schema) and _types(schema) == ["string"]:
            return True, self.fixed[name]
        return False, None


class _Record:
    """Builds an object's dict, in its schema's key order, from the drawn values and the constants."""

    def __init__(self, keys: list[str], constants: dict[str, Any], drawn: list[str]) -> None:
        self.keys = keys
        self.constants = constants
        self.drawn = drawn

    def __call__(self, values: tuple[Any, ...]) -> dict[str, Any]:
        found = dict(zip(self.drawn, values, strict=True))
        for key, value in self.constants.items():  # a list or object constant is copied, not shared
            found[key] = value if isinstance(value, str | int | float | bool | None) else deepcopy(value)
        return {key: found[key] for key in self.keys if key in found and found[key] is not _ABSENT}


def _adds_only(base: Mapping[str, Any], part: Any) -> bool:
    """Whether merging ``part`` into ``base`` (:func:`merge_all_of`) loses none of either: the part
    only requires fields or describes fields the base does not."""
    if not isinstance(part, Mapping) or "allOf" in base:
        return False
    if not set(part) <= {"required", "properties", "description", "title"}:
        return False
    ours: Mapping[str, Any] = base.get("properties", {})
    theirs: Mapping[str, Any] = part.get("properties", {})
    return all(key not in ours or ours[key] == value for key, value in theirs.items())


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    return isinstance(value, int) and not isinstance(value, bool)


def strategy_for(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Realistic values of ``schema`` with the default field and format tables."""
    return SchemaStrategies().build(schema)


__all__ = ["SchemaStrategies", "UnsupportedSchemaError", "merge_all_of", "strategy_for"]
