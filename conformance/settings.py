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
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from conformance.errors import ConfigurationError

Profile = Literal["simulator", "sandbox"]

# The embedded simulator's default account (see README, "The embedded simulator").
SIMULATOR_ACCOUNT_ID = "9900000"
SIMULATOR_USERNAME = "bw-user"
SIMULATOR_PASSWORD = "bw-pass"  # noqa: S105 - a documented public test credential
SIMULATOR_APPLICATION_ID = "11111111-1111-4111-8111-111111111111"
SIMULATOR_NUMBER = "+19195550100"
SIMULATOR_LOOPBACK_NUMBER = "+19195550101"

ENVIRONMENT = {
    "target": "BW_BASE_URL",
    "username": "BW_USERNAME",
    "password": "BW_PASSWORD",
    "account_id": "BW_ACCOUNT_ID",
    "application_id": "BW_VOICE_APPLICATION_ID",
    "number": "BW_NUMBER",
    "loopback_number": "BW_LOOPBACK_NUMBER",
    "callback_base_url": "BW_CALLBACK_BASE_URL",
    # A second account, for 403/404 across accounts (the official SDK's tests name the
    # credentials BW_USERNAME_FORBIDDEN / BW_PASSWORD_FORBIDDEN).
    "other_account_id": "BW_OTHER_ACCOUNT_ID",
    "other_username": "BW_USERNAME_FORBIDDEN",
    "other_password": "BW_PASSWORD_FORBIDDEN",
}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know about its target."""

    target: str | None = None  # None: start the embedded simulator
    spec: str | None = None  # None: the packaged openapi/bandwidth-voice.yml
    account_id: str | None = None
    username: str | None = None
    password: str | None = None
    application_id: str | None = None
    number: str | None = None  # the caller number
    loopback_number: str | None = None  # callee number whose app sends initiate to the sink
    callback_base_url: str | None = None  # where the target can reach the sink
    other_account_id: str | None = None  # a second account, for cross-account checks
    other_username: str | None = None
    other_password: str | None = None
    profile: Profile = "simulator"
    max_examples: int = 25
    calls_per_second: float = 1.0  # sandbox profile: client-side pacing of call creation
    call_budget: int = 50  # sandbox profile: most calls one run may create

    @property
    def embedded(self) -> bool:
        """True when no target was given and the embedded simulator is used."""
        return self.target is None

    def with_target(self, base_url: str) -> Settings:
        """These settings pointed at ``base_url`` (used once the embedded simulator is up)."""
        return replace(self, target=base_url)

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with the password hidden, for reports."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("password", "other_password"):
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


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {value!r}", reason="bad-url")


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
    for name in ("max_examples", "call_budget"):
        if name in values:
            try:
                values[name] = int(values[name])
            except (TypeError, ValueError):
                raise ConfigurationError(f"{name} must be an integer, got {values[name]!r}") from None
            if values[name] < 1:
                raise ConfigurationError(f"{name} must be at least 1, got {values[name]}")
    if "calls_per_second" in values:
        try:
            values["calls_per_second"] = float(values["calls_per_second"])
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"calls_per_second must be a number, got {values['calls_per_second']!r}"
            ) from None
        if values["calls_per_second"] <= 0:
            raise ConfigurationError("calls_per_second must be positive")
    for name in ("target", "callback_base_url"):
        if values.get(name):
            values[name] = str(values[name]).rstrip("/")
            _check_url(name, values[name])

    if not values.get("target"):
        if profile == "sandbox":
            raise ConfigurationError(
                "the sandbox profile needs a target: set --bw-target or BW_BASE_URL", reason="no-target"
            )
        values["target"] = None
        values.setdefault("account_id", SIMULATOR_ACCOUNT_ID)
        values.setdefault("username", SIMULATOR_USERNAME)
        values.setdefault("password", SIMULATOR_PASSWORD)
        values.setdefault("application_id", SIMULATOR_APPLICATION_ID)
        values.setdefault("number", SIMULATOR_NUMBER)
        values.setdefault("loopback_number", SIMULATOR_LOOPBACK_NUMBER)
    else:
        missing = [
            ENVIRONMENT[name] for name in ("account_id", "username", "password") if not values.get(name)
        ]
        if missing:
            raise ConfigurationError(
                f"target {values['target']} needs credentials: set {', '.join(missing)}",
                reason="missing-credentials",
            )
    values["profile"] = profile
    return Settings(**values)


__all__ = ["ENVIRONMENT", "Profile", "Settings", "load_settings"]
