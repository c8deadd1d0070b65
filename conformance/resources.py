"""Locate the contract files (``openapi/``) and the BXML grammar (``xsd/``).

In a wheel they live inside the package as ``conformance/_data/{openapi,xsd}``; in a checkout or an
editable install they are the top-level ``openapi/`` and ``xsd/`` folders beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import IO, Any

from conformance.errors import ResourceNotFoundError

_PACKAGE_DIR = Path(__file__).resolve().parent

SPEC_FILENAME = "bandwidth-voice.yml"
BXML_XSD_FILENAME = "bxml.xsd"


@cache
def data_dir(kind: str) -> Path:
    """Return the directory holding resource ``kind`` (``"openapi"`` or ``"xsd"``)."""
    if kind not in {"openapi", "xsd"}:
        raise ValueError(f"unknown resource kind {kind!r}")
    candidates = (_PACKAGE_DIR / "_data" / kind, _PACKAGE_DIR.parent / kind)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ResourceNotFoundError(f"cannot find the {kind}/ folder (looked in {looked})")


def spec_path() -> Path:
    """Path of the Voice API contract, ``openapi/bandwidth-voice.yml``."""
    path = data_dir("openapi") / SPEC_FILENAME
    if not path.is_file():
        raise ResourceNotFoundError(f"missing {path}")
    return path


def xsd_path(name: str = BXML_XSD_FILENAME) -> Path:
    """Path of a schema file in ``xsd/`` (``bxml.xsd`` by default)."""
    path = data_dir("xsd") / name
    if not path.is_file():
        raise ResourceNotFoundError(f"missing {path}")
    return path


def load_yaml(source: str | bytes | IO[bytes] | IO[str]) -> Any:
    """Parse YAML with PyYAML's safe loader, in C (libyaml) when PyYAML was built with it.

    Same constructors and the same result as ``yaml.safe_load``; libyaml's parser reads the 300 KB
    contract in 0.09 s instead of 0.59 s, which every process that loads it (each run, each
    ``--workers`` process, ``serve``, ``fuzz-app``) used to pay.  Errors are ``yaml.YAMLError``."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(source, Loader=loader)  # noqa: S506 - a safe loader (SafeLoader or its C twin)


@cache
def load_spec() -> dict[str, object]:
    """The parsed contract (a fresh parse is cached; treat the result as read-only)."""
    with spec_path().open("rb") as handle:
        loaded = load_yaml(handle)
    if not isinstance(loaded, dict):
        raise ResourceNotFoundError(f"{spec_path()} is not an OpenAPI document")
    return loaded


__all__ = ["data_dir", "load_spec", "load_yaml", "spec_path", "xsd_path"]
