"""Validation of request bodies and query strings, each failure naming the field it blames.

Every check raises :class:`~conformance.simulator.api_errors.ApiError` (status 400) whose
description reads ``Invalid <field>: <what is wrong>`` and whose rule is ``invalid-<field>``.
Patterns are compiled once at import; nothing here parses the contract per request.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conformance.simulator.api_errors import ApiError, bad_request
from conformance.simulator.models import Callback, Method

__all__ = [
    "E164",
    "SIP_URI",
    "CreateCallRequest",
    "Fields",
    "parse_create_call",
    "parse_iso_time",
    "parse_page_size",
    "require_object",
]

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
SIP_URI = re.compile(r"sips?:[!#-;=?A-~]+@[!#-;=?A-~]+")
_URL = re.compile(r"https?://[A-Za-z0-9._~\-\[\]:%@!$&'()*+,;=]+(?:[/?#][\x21-\x7e]*)?")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_FRACTION = re.compile(r"\.[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UUI = re.compile(r"[!-+\--:<-~]+;encoding=(?:jwt|base64|hex)(?:,[!-+\--:<-~]+;encoding=(?:jwt|base64|hex))*")
_PRIVATE_NAMES = ("Restricted", "Anonymous", "Private", "Unavailable")
MAX_URL = 2048
MAX_CREDENTIAL = 1024
MAX_TAG = 4096
# The contract gives these no maximum: any double is valid (a wait longer than the call is harmless).
MAX_DETECTION_SECONDS = sys.float_info.max


class Fields:
    """Typed reads of one JSON object; ``prefix`` qualifies field names (``machineDetection.mode``)."""

    __slots__ = ("data", "prefix")

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _absent(self, key: str, nullable: bool) -> bool:
        """Whether ``key`` is missing or null; an explicit null where none is allowed is a 400."""
        if key not in self.data:
            return True
        if self.data[key] is None:
            if not nullable:
                raise bad_request(self._name(key), "must not be null")
            return True
        return False

    def string(
        self, key: str, *, max_len: int | None = None, required: bool = False, nullable: bool = True
    ) -> str | None:
        if self._absent(key, nullable or required):
            if required:
                raise bad_request(self._name(key), "is required")
            return None
        value = self.data[key]
        if not isinstance(value, str):
            raise bad_request(self._name(key), "must be a string")
        if max_len is not None and len(value) > max_len:
            raise bad_request(self._name(key), f"must be at most {max_len} characters")
        return value

    def url(self, key: str, *, required: bool = False, nullable: bool = True) -> str | None:
        value = self.string(key, required=required, nullable=nullable)
        if value is None:
            return None
        if len(value) > MAX_URL:
            raise bad_request(self._name(key), f"must be at most {MAX_URL} characters")
        if not value.lower().startswith(("http://", "https://")):
            raise bad_request(self._name(key), "only http and https are allowed.")
        if _URL.fullmatch(value) is None:
            raise bad_request(self._name(key), "must be an absolute http(s) URL")
        return value

    def method(self, key: str) -> Method:
        value = self.data.get(key)
        if value is None:
            return "POST"
        if value not in ("GET", "POST"):
            raise bad_request(self._name(key), "must be GET or POST")
        return "GET" if value == "GET" else "POST"

    def number(self, key: str, low: float, high: float | None, default: float) -> float:
        value = self.data.get(key)
        if value is None:
            return default
        # An int of thousands of digits is a valid JSON number that float() cannot hold: compare
        # it as an int (Python compares int and float exactly) and convert only once in range.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad_request(self._name(key), "must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise bad_request(self._name(key), "must be a finite number")
        if value < low or (high is not None and value > high):
            bound = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise bad_request(self._name(key), f"must be {bound}")
        return float(value)

    def optional_number(self, key: str, low: float, high: float) -> float | None:
        return self.number(key, low, high, math.nan) if self.has(key) else None

    def integer(self, key: str, low: int, high: int, default: int) -> int:
        value = self.data.get(key)
        if value is None:
            return default
        # JSON has one number type: 2.0 is the integer 2 (as JSON Schema and the platform's JSON
        # binding both read it); 2.5 is not.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(self._name(key), "must be an integer")
        if not low <= value <= high:
            raise bad_request(self._name(key), f"must be from {low} to {high}")
        return value

    def boolean(self, key: str, *, nullable: bool = True) -> bool | None:
        if self._absent(key, nullable):
            return None
        value = self.data[key]
        if not isinstance(value, bool):
            raise bad_request(self._name(key), "must be true or false")
        return value

    def enum(self, key: str, allowed: tuple[str, ...], *, nullable: bool = True) -> str | None:
        if self._absent(key, nullable):
            return None
        value = self.data[key]
        if value not in allowed:
            raise bad_request(self._name(key), "must be one of " + ", ".join(allowed))
        return str(value)

    def credentials(self, user_key: str, password_key: str) -> tuple[str | None, str | None]:
        return (
            self.string(user_key, max_len=MAX_CREDENTIAL),
            self.string(password_key, max_len=MAX_CREDENTIAL),
        )

    def callback(
        self,
        url_key: str,
        method_key: str,
        fallback_url_key: str | None = None,
        fallback_method_key: str | None = None,
        *,
        required: bool = False,
        user_key: str = "username",
        password_key: str = "password",  # noqa: S107 - a field name, not a secret
    ) -> Callback:
        url = self.url(url_key, required=required)
        user, password = self.credentials(user_key, password_key)
        cb = Callback(url=url, method=self.method(method_key), username=user, password=password)
        if fallback_url_key is not None:
            cb.fallback_url = self.url(fallback_url_key)
        if fallback_method_key is not None:
            cb.fallback_method = self.method(fallback_method_key)
        cb.fallback_username, cb.fallback_password = self.credentials("fallbackUsername", "fallbackPassword")
        return cb


@dataclass
class CreateCallRequest:
    """A createCall body that passed validation (the engine gets it as a :class:`Call`)."""

    to: str
    from_: str
    application_id: str
    answer: Callback
    disconnect: Callback
    call_timeout: float
    callback_timeout: float
    priority: int
    tag: str | None
    display_name: str | None
    privacy: bool | None
    uui: str | None
    machine_detection: dict[str, Any] | None


def _machine_detection(body: Mapping[str, Any]) -> dict[str, Any] | None:
    if "machineDetection" not in body:
        return None
    raw = body["machineDetection"]
    if not isinstance(raw, dict):
        raise bad_request("machineDetection", "must be an object")
    f = Fields(raw, "machineDetection.")
    f.enum("mode", ("sync", "async"), nullable=False)
    # The docs give defaults (15, 10, 10, 5 s) and the contract no maximum: any double is accepted
    # (an integer too large for a double is refused: it cannot be read as the contract's format).
    for key in (
        "detectionTimeout",
        "silenceTimeout",
        "speechThreshold",
        "speechEndThreshold",
        "machineSpeechEndThreshold",
    ):
        f.optional_number(key, 0, MAX_DETECTION_SECONDS)
    f.boolean("delayResult")
    f.url("callbackUrl")
    f.method("callbackMethod")
    f.url("fallbackUrl")
    f.method("fallbackMethod")
    f.credentials("username", "password")
    f.credentials("fallbackUsername", "fallbackPassword")
    return dict(raw)


def parse_create_call(body: Mapping[str, Any]) -> CreateCallRequest:
    f = Fields(body)
    to = f.string("to", required=True)
    if to is None or (E164.fullmatch(to) is None and SIP_URI.fullmatch(to) is None):
        raise bad_request("to", "must be an E164 telephone number or a SIP URI")
    from_ = f.string("from", required=True)
    if from_ is None or E164.fullmatch(from_) is None:
        raise bad_request("from", "must be an E164 telephone number")
    application_id = f.string("applicationId", required=True)
    if not application_id:
        raise bad_request("applicationId", "is required")
    answer = f.callback(
        "answerUrl", "answerMethod", "answerFallbackUrl", "answerFallbackMethod", required=True
    )
    disconnect = Callback(
        url=f.url("disconnectUrl"),
        method=f.method("disconnectMethod"),
        username=answer.username,
        password=answer.password,
    )
    privacy = f.boolean("privacy")
    display_name = f.string("displayName", max_len=256)
    if display_name is not None:
        if _CONTROL.search(display_name):
            raise bad_request("displayName", "must not contain control characters")
        if privacy and display_name not in _PRIVATE_NAMES:
            raise bad_request(
                "displayName", "must be one of " + ", ".join(_PRIVATE_NAMES) + " when privacy is true"
            )
    uui = f.string("uui", max_len=350)
    if uui is not None and _UUI.fullmatch(uui) is None:
        raise bad_request("uui", "each value must end with ;encoding=jwt, base64 or hex")
    return CreateCallRequest(
        to=to,
        from_=from_,
        application_id=application_id,
        answer=answer,
        disconnect=disconnect,
        call_timeout=f.number("callTimeout", 1, 300, 30.0),
        callback_timeout=f.number("callbackTimeout", 1, 25, 15.0),
        priority=f.integer("priority", 1, 5, 5),
        tag=f.string("tag", max_len=MAX_TAG),
        display_name=display_name,
        privacy=privacy,
        uui=uui,
        machine_detection=_machine_detection(body),
    )


# --------------------------------------------------------------------------------------- query values
def parse_iso_time(name: str, value: str | None) -> datetime | None:
    """An ISO 8601 timestamp from the query string (naive times are taken as UTC)."""
    if value is None:
        return None
    if _DATE_TIME.fullmatch(value) is None:
        raise bad_request(name, "must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z")
    text = _FRACTION.sub(lambda m: m.group(0)[:7], value.upper().replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(name, "must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_page_size(value: str | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    try:
        size = int(value.strip(), 10)
    except ValueError:
        raise bad_request("pageSize", "must be an integer") from None
    if not 1 <= size <= maximum:
        raise bad_request("pageSize", f"must be from 1 to {maximum}")
    return size


def require_object(value: Any, what: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, f"Invalid {what}: must be a JSON object", rule="body-not-object")
    return value
