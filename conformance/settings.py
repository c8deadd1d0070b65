"""Settings for a conformance run: one frozen dataclass, built once, passed everywhere.

Precedence, highest first: CLI option > pytest option > environment (``BW_*``) > ``pyproject.toml``
``[tool.bw-conformance]`` > defaults.  The CLI and the pytest plugin both hand their options to
:func:`load_settings` as ``overrides`` (the CLI passes its values down as pytest options, so the two
never disagree).  Nothing else reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from conformance.errors import ConfigurationError

Profile = Literal["simulator", "sandbox"]
AuthMode = Literal["oauth2", "basic"]

# The embedded simulator's default account (see README, "The embedded simulator").
SIMULATOR_ACCOUNT_ID = "9900000"
SIMULATOR_USERNAME = "bw-user"
SIMULATOR_PASSWORD = "bw-pass"  # noqa: S105 - a documented public test credential
SIMULATOR_APPLICATION_ID = "11111111-1111-4111-8111-111111111111"
SIMULATOR_NUMBER = "+19195550100"
SIMULATOR_LOOPBACK_NUMBER = "+19195550101"
SIMULATOR_CLIENT_ID = "bw-client"
SIMULATOR_CLIENT_SECRET = "bw-client-secret"  # noqa: S105 - a documented public test credential
# The real platform's token endpoint (the official spec's OAuth2 clientCredentials tokenUrl).
BANDWIDTH_TOKEN_URL = "https://api.bandwidth.com/api/v1/oauth2/token"  # noqa: S105 - a URL
# The path of the token endpoint on any host (the real platform's, and the simulator's own).
TOKEN_PATH = "/api/v1/oauth2/token"  # noqa: S105 - a path

ENVIRONMENT = {
    "target": "BW_BASE_URL",
    "username": "BW_USERNAME",
    "password": "BW_PASSWORD",
    # OAuth2 client credentials (the official SDK's test names), the only way in from 2026-12-02.
    "client_id": "BW_CLIENT_ID",
    "client_secret": "BW_CLIENT_SECRET",
    "token_url": "BW_TOKEN_URL",
    "account_id": "BW_ACCOUNT_ID",
    "application_id": "BW_VOICE_APPLICATION_ID",
    "number": "BW_NUMBER",
    "loopback_number": "BW_LOOPBACK_NUMBER",
    "callback_base_url": "BW_CALLBACK_BASE_URL",
    # Where the target reaches the suite's media-stream sink (a ws:// or wss:// tunnel to this machine).
    "stream_base_url": "BW_STREAM_BASE_URL",
    # A second account, for 403/404 across accounts (the official SDK's tests name the
    # credentials BW_USERNAME_FORBIDDEN / BW_PASSWORD_FORBIDDEN).
    "other_account_id": "BW_OTHER_ACCOUNT_ID",
    "other_username": "BW_USERNAME_FORBIDDEN",
    "other_password": "BW_PASSWORD_FORBIDDEN",
    "other_client_id": "BW_OTHER_CLIENT_ID",
    "other_client_secret": "BW_OTHER_CLIENT_SECRET",
    # The target accepts OAuth2 only (as the real platform from 2026-12-02): Basic must get 401.
    "basic_refused": "BW_BASIC_REFUSED",
    # The simulator's control API token, when it was started with `serve --control-token`.
    "control_token": "BW_SIM_CONTROL_TOKEN",
}

# Fields that hold secrets: never in a repr, a log line, a command line or a report.
SECRET_FIELDS = ("password", "client_secret", "other_password", "other_client_secret", "control_token")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about its target."""

    target: str | None = None  # None: start the embedded simulator
    spec: str | None = None  # None: the packaged openapi/bandwidth-voice.yml
    account_id: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_url: str | None = None  # None: the target's own when it is a simulator, else Bandwidth's
    auth: AuthMode = "basic"  # oauth2 when a client id is given (see load_settings)
    basic_refused: bool = False  # the target takes OAuth2 only: the api suite checks Basic gets 401
    application_id: str | None = None
    number: str | None = None  # the caller number
    loopback_number: str | None = None  # callee number whose app sends initiate to the sink
    callback_base_url: str | None = None  # where the target can reach the sink
    stream_base_url: str | None = None  # where the target can reach the stream sink (ws:// or wss://)
    other_account_id: str | None = None  # a second account, for cross-account checks
    other_username: str | None = None
    other_password: str | None = field(default=None, repr=False)
    other_client_id: str | None = None
    other_client_secret: str | None = field(default=None, repr=False)
    control_token: str | None = field(default=None, repr=False)  # a simulator's /_sim/ token
    profile: Profile = "simulator"
    max_examples: int = 25
    seed: int | None = None  # None: a random seed, chosen once per run and printed
    max_failures: int | None = None  # stop after this many failed tests
    max_time: float | None = None  # overall deadline of a run, in seconds
    request_timeout: float = 30.0  # seconds for any one HTTP request to the target
    calls_per_second: float = 1.0  # sandbox profile: client-side pacing of call creation
    call_budget: int = 50  # sandbox profile: most calls one run may create

    @property
    def embedded(self) -> bool:
        """True when no target was given and the embedded simulator is used."""
        return self.target is None

    def with_target(self, base_url: str) -> Settings:
        """These settings pointed at ``base_url`` (used once the embedded simulator is up)."""
        return replace(self, target=base_url)

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers for a simulator's ``/_sim/`` control API: its Bearer token when one is set."""
        return {"Authorization": f"Bearer {self.control_token}"} if self.control_token else {}

    @property
    def principal(self) -> str:
        """Who the run authenticates as: the client id (OAuth2) or the user name (Basic)."""
        if self.auth == "oauth2":
            return f"client id {self.client_id or '(none)'}"
        return f"user {self.username or '(none)'}"

    def secrets(self) -> tuple[str, ...]:
        """Every secret value these settings hold (for output filters and tests)."""
        values = (getattr(self, name) for name in SECRET_FIELDS)
        return tuple(value for value in values if isinstance(value, str) and value)

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with every secret hidden, for reports."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in SECRET_FIELDS:
            if data.get(secret):
                data[secret] = "*****"
        return data


_FIELD_NAMES = {f.name for f in fields(Settings)}


def _pyproject_table(start: Path) -> dict[str, Any]:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                with candidate.open("rb") as handle:
                    data = tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigurationError(f"cannot read {candidate}: {exc}") from exc
            table = data.get("tool", {}).get("bw-conformance", {})
            if not isinstance(table, dict):
                raise ConfigurationError(f"{candidate}: [tool.bw-conformance] must be a table")
            result: dict[str, Any] = {}
            for key, value in table.items():
                name = key.replace("-", "_")
                if name not in _FIELD_NAMES:
                    known = ", ".join(sorted(n.replace("_", "-") for n in _FIELD_NAMES))
                    raise ConfigurationError(
                        f"{candidate}: unknown key {key!r} in [tool.bw-conformance]; known: {known}"
                    )
                result[name] = value
            return result
    return {}


def _check_url(name: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        kind = "an http(s)" if schemes == ("http", "https") else "a ws(s)"
        raise ConfigurationError(f"{name} must be {kind} URL, got {value!r}", reason="bad-url")


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    project_dir: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from overrides, the environment and ``pyproject.toml``.

    ``overrides`` holds options given on the command line or to pytest (``None`` values are
    ignored, so an option that was not given never hides the environment).
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = _pyproject_table(project_dir or Path.cwd())
    for name, variable in ENVIRONMENT.items():
        if environ.get(variable):
            values[name] = environ[variable]
    for name, value in (overrides or {}).items():
        if name not in _FIELD_NAMES:
            raise ConfigurationError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = value

    profile = values.get("profile", "simulator")
    if profile not in ("simulator", "sandbox"):
        raise ConfigurationError(f"profile must be 'simulator' or 'sandbox', got {profile!r}")
    for name, minimum in (("max_examples", 1), ("call_budget", 1), ("max_failures", 1), ("seed", 0)):
        if values.get(name) is not None:
            try:
                values[name] = int(values[name])
            except (TypeError, ValueError):
                raise ConfigurationError(f"{name} must be an integer, got {values[name]!r}") from None
            if values[name] < minimum:
                raise ConfigurationError(f"{name} must be at least {minimum}, got {values[name]}")
    for name in ("calls_per_second", "max_time", "request_timeout"):
        if values.get(name) is not None:
            try:
                values[name] = float(values[name])
            except (TypeError, ValueError):
                raise ConfigurationError(f"{name} must be a number, got {values[name]!r}") from None
            if not 0 < values[name] < float("inf"):
                raise ConfigurationError(f"{name} must be a positive number, got {values[name]}")
    if "basic_refused" in values:
        values["basic_refused"] = _flag("basic_refused", values["basic_refused"])
    auth = values.get("auth")
    if auth is not None and auth not in ("oauth2", "basic"):
        raise ConfigurationError(f"auth must be 'oauth2' or 'basic', got {auth!r}", reason="bad-auth")
    for name in ("target", "callback_base_url", "token_url"):
        if values.get(name):
            values[name] = str(values[name]).rstrip("/")
            _check_url(name, values[name])
    if values.get("stream_base_url"):
        values["stream_base_url"] = str(values["stream_base_url"]).rstrip("/")
        _check_url("stream_base_url", values["stream_base_url"], ("ws", "wss"))

    if not values.get("target"):
        if profile == "sandbox":
            raise ConfigurationError(
                "the sandbox profile needs a target: set --bw-target or BW_BASE_URL", reason="no-target"
            )
        values["target"] = None
        values.setdefault("account_id", SIMULATOR_ACCOUNT_ID)
        values.setdefault("username", SIMULATOR_USERNAME)
        values.setdefault("password", SIMULATOR_PASSWORD)
        # OAuth2 unless asked for Basic: the only way in on the real platform from 2026-12-02.
        if values.get("auth") != "basic":
            values.setdefault("client_id", SIMULATOR_CLIENT_ID)
            values.setdefault("client_secret", SIMULATOR_CLIENT_SECRET)
        values.setdefault("application_id", SIMULATOR_APPLICATION_ID)
        values.setdefault("number", SIMULATOR_NUMBER)
        values.setdefault("loopback_number", SIMULATOR_LOOPBACK_NUMBER)
    values["auth"] = auth or ("oauth2" if values.get("client_id") else "basic")
    if values.get("target"):
        _check_credentials(values)
    values["profile"] = profile
    return Settings(**values)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}", reason="bad-flag")


def _check_credentials(values: Mapping[str, Any]) -> None:
    """A target needs an account and the credentials of the chosen auth mode (exit 2 otherwise)."""
    needed = ("client_id", "client_secret") if values["auth"] == "oauth2" else ("username", "password")
    missing = [ENVIRONMENT[name] for name in ("account_id", *needed) if not values.get(name)]
    if missing:
        how = "OAuth2 client credentials" if values["auth"] == "oauth2" else "Basic credentials (legacy)"
        raise ConfigurationError(
            f"target {values['target']} needs {how}: set {', '.join(missing)}",
            reason="missing-credentials",
        )


__all__ = [
    "BANDWIDTH_TOKEN_URL",
    "ENVIRONMENT",
    "SECRET_FIELDS",
    "TOKEN_PATH",
    "AuthMode",
    "Profile",
    "Settings",
    "load_settings",
]
