"""Load the Voice API contract as a schemathesis schema configured for one target.

The base URL is known only at run time (the embedded simulator picks a free port), so the schema is
built from :class:`~conformance.settings.Settings` and the target's base URL, usually by a session
fixture.  The list of operations, which pytest needs earlier (one item per operation, at collection),
comes from :func:`contract_operations`, which reads the contract without schemathesis.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from schemathesis.schemas import BaseSchema

from conformance.api import checks as _checks  # registers the checks before any config names them
from conformance.api import hooks as _hooks  # noqa: F401 - registers the before_call hook
from conformance.api.accounts import Credentials, primary_credentials
from conformance.api.operations import OperationRef, is_voice_operation, voice_operations
from conformance.api.probes import ProbeRun, register_run
from conformance.api.report import curl_auth_for, curl_auth_of
from conformance.auth import Authenticator
from conformance.errors import ConfigurationError
from conformance.resources import load_yaml, spec_path
from conformance.settings import Settings
from conformance.tls import client_context

__all__ = [
    "api_config",
    "contract_operations",
    "load_api_schema",
    "read_contract",
    "resolve_spec",
    "use_authenticator",
]

# Operations whose fuzzing creates calls; on a real account they only run their examples.
_CALL_CREATING_OPERATIONS = ("createCall",)
# A schema-valid string is rarely a valid BXML document, so 400 is a correct answer to a
# "positive" case there; the bxml suite checks acceptance with real documents.
_BXML_OPERATIONS = ("updateCallBxml", "updateConferenceBxml")
_POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def resolve_spec(spec: str | None) -> str | Path:
    """The contract to test against: ``spec`` (a path or an http(s) URL) or the packaged one."""
    if spec is None:
        return spec_path()
    if urlsplit(spec).scheme in {"http", "https"}:
        return spec
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"--bw-spec {spec!r}: no such file", reason="spec-not-found")
    return path


def _pinned_parameters(settings: Settings) -> dict[str, str]:
    pinned = {"path.accountId": settings.account_id or ""}
    if settings.application_id:
        pinned["body.applicationId"] = settings.application_id
    return pinned


def api_config(
    settings: Settings,
    *,
    base_url: str,
    second_account: Credentials | None = None,
    seed: int | None = None,
    callback_base_url: str | None = None,
    basic_refused: bool = False,
) -> schemathesis.Config:
    """The schemathesis configuration for one run against ``base_url``.

    All phases and all default checks, plus the Bandwidth checks of :mod:`conformance.api.checks`;
    ``accountId`` pinned to the configured account; ``max_examples`` from the settings; ``seed``
    (else ``settings.seed``, else schemathesis picks one) makes every phase draw the same cases; no
    example database.  With the sandbox profile, call-creating operations run only their examples
    (no coverage or fuzzing phase).  ``callback_base_url``: where made-up callback URLs are re-pointed
    (see :mod:`conformance.api.hooks`).  ``basic_refused``: the target is known to accept OAuth2 only,
    so the auth probe also checks that the client credentials do not work as a Basic user.

    The configuration names no credentials: requests authenticate through the schema's auth
    provider (:func:`load_api_schema`), and the probes find theirs under the run id registered here.
    """
    account_id = settings.account_id or ""
    checks: dict[str, Any] = {name: {"active": True} for name in _checks.RESPONSE_CHECK_NAMES}
    checks["bw_create_call_location"]["account_id"] = account_id
    if callback_base_url:
        checks["bw_error_body"]["callback_base_url"] = callback_base_url
    run_id = uuid.uuid4().hex  # probes run once per operation and run (see probes._Probe)
    register_run(
        run_id,
        ProbeRun(
            own=primary_credentials(settings),
            own_curl=curl_auth_for(settings),
            other=second_account,
            other_curl=curl_auth_of(second_account, other=True) if second_account is not None else None,
            basic_refused=basic_refused and settings.auth == "oauth2",
        ),
    )
    checks["bw_auth_required"] = {"active": True, "run_id": run_id}
    if second_account is not None:
        checks["bw_cross_account_denied"] = {"active": True, "run_id": run_id}
    data: dict[str, Any] = {
        "base-url": base_url,
        # Every path names the account under test, and a call must use one of its applications:
        # other values are rightly refused (403, 400) and would hide everything else.
        "parameters": _pinned_parameters(settings),
        # No example database: nothing is written to a .hypothesis/ folder, and a run is repeated by
        # its seed alone.
        "generation": {"mode": "all", "max-examples": settings.max_examples, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            # Links come from the contract; dependency inference would take applicationId for a
            # reference to a resource nothing creates and never start a scenario with createCall.
            "stateful": {"enabled": True, "inference": {"algorithms": ["location-headers"]}},
        },
        "checks": checks,
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        "request-timeout": settings.request_timeout,
    }
    seed = settings.seed if seed is None else seed
    if seed is not None:
        data["seed"] = seed
    operations: list[dict[str, Any]] = [
        {
            "include-operation-id": list(_BXML_OPERATIONS),
            "checks": {"positive_data_acceptance": {"expected-statuses": [*_POSITIVE_STATUSES, "400"]}},
        }
    ]
    if settings.profile == "sandbox":
        operations += [
            {
                "include-operation-id": operation,
                "phases": {"coverage": {"enabled": False}, "fuzzing": {"enabled": False}},
            }
            for operation in _CALL_CREATING_OPERATIONS
        ]
    data["operations"] = operations
    try:
        return schemathesis.Config.from_dict(data)
    except Exception as exc:  # schemathesis.config.ConfigError and jsonschema errors
        message = f"cannot configure schemathesis: {exc}"
        raise ConfigurationError(message, reason="schemathesis-config") from exc


def load_api_schema(
    settings: Settings,
    *,
    base_url: str,
    second_account: Credentials | None = None,
    seed: int | None = None,
    callback_base_url: str | None = None,
    authenticator: Authenticator | None = None,
    basic_refused: bool = False,
) -> BaseSchema:
    """The contract (``settings.spec`` or the packaged one) as a schemathesis schema for ``base_url``.

    Operations the contract marks as not Voice API operations (the OAuth2 token endpoint, see
    :func:`~conformance.api.operations.is_voice_operation`) are left out.  Every case authenticates
    through ``authenticator`` (default: one built from ``settings``), the schema's auth provider (see
    :func:`use_authenticator`).
    """
    config = api_config(
        settings,
        base_url=base_url,
        second_account=second_account,
        seed=seed,
        callback_base_url=callback_base_url,
        basic_refused=basic_refused,
    )
    source = resolve_spec(settings.spec)
    try:
        if isinstance(source, str):
            schema = schemathesis.openapi.from_url(source, config=config)
        else:
            schema = schemathesis.openapi.from_path(source, config=config)
    except (OSError, ValueError, schemathesis.errors.LoaderError) as exc:
        raise ConfigurationError(f"cannot load the contract {source}: {exc}", reason="spec-invalid") from exc
    voice = schema.exclude(func=_not_voice)
    use_authenticator(voice, authenticator or Authenticator.from_settings(settings))
    return voice


def use_authenticator(schema: BaseSchema, authenticator: Authenticator) -> None:
    """Make ``authenticator`` the auth provider of ``schema``: every case it generates carries the
    authenticator's current ``Authorization`` header, except the cases schemathesis generates to test
    missing or invalid credentials.

    The header is set on the case itself (not as a ``requests`` auth applied when sending), so that
    schemathesis sanitizes it in the reproduce commands it writes and knows the credentials are
    explicit (its ``ignored_auth`` check re-sends without them).  The authenticator caches the token
    and renews it a minute before it expires; :class:`~conformance.api.runner.ApiRunner` re-sends a
    case once with a new token when the target says the one sent expired.
    """

    class RunAuthenticator:
        def get(self, case: Any, context: Any) -> str:
            return authenticator.authorization()

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": data}

    # No schemathesis caching: the authenticator has its own, and knows when a token expires.
    schema.auth(refresh_interval=None)(RunAuthenticator)


def _not_voice(ctx: Any) -> bool:
    raw = getattr(getattr(ctx.operation, "definition", None), "raw", None)
    return isinstance(raw, dict) and not is_voice_operation(raw)


def read_contract(spec: str | None, *, timeout: float = 30.0) -> dict[str, Any]:
    """The contract as a plain document (YAML or JSON; a URL is fetched once), without schemathesis."""
    import httpx
    import yaml

    source = resolve_spec(spec)
    try:
        if isinstance(source, str):
            response = httpx.get(source, timeout=timeout, follow_redirects=True, verify=client_context())
            response.raise_for_status()
            text = response.text
        else:
            text = source.read_text(encoding="utf-8")
        document = load_yaml(text)
    except (OSError, ValueError, yaml.YAMLError, httpx.HTTPError) as exc:
        raise ConfigurationError(f"cannot load the contract {source}: {exc}", reason="spec-invalid") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(f"the contract {source} is not an OpenAPI document", reason="spec-invalid")
    return document


def contract_operations(spec: str | None) -> list[OperationRef]:
    """The operations of the contract the api suite tests (one pytest item each), in document order."""
    return voice_operations(read_contract(spec))
