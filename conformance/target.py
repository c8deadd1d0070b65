"""The target under test: a base URL with credentials, or the embedded simulator started on demand."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace

import httpx

from conformance.auth import Authenticator, default_token_url
from conformance.errors import TargetUnreachableError
from conformance.settings import Settings


@dataclass(frozen=True)
class Target:
    """A reachable Voice API target."""

    settings: Settings  # with ``target`` set to the base URL actually used, ``token_url`` resolved
    has_control_api: bool  # the simulator's /_sim/ control API is available
    authenticator: Authenticator = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.authenticator is None:
            object.__setattr__(self, "authenticator", Authenticator.from_settings(self.settings))

    @property
    def base_url(self) -> str:
        assert self.settings.target is not None
        return self.settings.target

    @property
    def account_url(self) -> str:
        """``{base}/accounts/{accountId}``: the prefix of every Voice operation."""
        return f"{self.base_url}/accounts/{self.settings.account_id}"

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client for the target, authenticated as the run is (Bearer token or Basic)."""
        kwargs.setdefault("timeout", self.settings.request_timeout)
        return httpx.Client(base_url=self.base_url, auth=self.authenticator.httpx_auth, **kwargs)  # type: ignore[arg-type]


def probe(base_url: str, timeout: float = 10.0) -> bool:
    """Check that ``base_url`` answers HTTP; return whether it offers the ``/_sim/`` control API.

    Raises :class:`TargetUnreachableError` when nothing answers.
    """
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.get(f"{base_url}/_sim/accounts")
    except httpx.HTTPError as exc:
        raise TargetUnreachableError(f"target {base_url} is unreachable: {exc}") from exc
    return response.status_code == 200 and response.headers.get("content-type", "").startswith(
        "application/json"
    )


@contextmanager
def open_target(settings: Settings) -> Iterator[Target]:
    """Yield a :class:`Target` for ``settings``, starting the embedded simulator when none is given."""
    with ExitStack() as stack:
        if settings.target is None:
            from conformance.simulator import Simulator

            simulator = stack.enter_context(Simulator())
            settings = settings.with_target(simulator.base_url)
        assert settings.target is not None
        has_control_api = probe(settings.target)
        if settings.token_url is None:
            token_url = default_token_url(settings.target, is_simulator=has_control_api)
            settings = replace(settings, token_url=token_url)
        yield Target(settings=settings, has_control_api=has_control_api)


__all__ = ["Target", "open_target", "probe"]
