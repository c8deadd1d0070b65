"""Where the simulator may send requests of its own (webhooks, PlayAudio fetches).

By default only to this machine (``loopback``): the hosts a test or a local voice app listens on.
Fuzzed or mistyped URLs (``answerUrl: https://0.com``) then fail at once as a refused connection,
exactly as an unreachable app does on the real platform (``callback-error``), and no traffic leaves
the machine.  ``serve --callback-hosts any`` lifts the limit for apps on other hosts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

CallbackHosts = Literal["loopback", "any"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is a loopback name or literal address (no DNS is consulted)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    host = host.rstrip(".").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EgressPolicy:
    """Which URLs the simulator may request."""

    hosts: CallbackHosts = "loopback"

    def allows(self, url: str) -> bool:
        return self.hosts == "any" or is_loopback_url(url)

    def refusal(self, url: str) -> str:
        """The error message recorded when ``url`` is not allowed."""
        host = urlsplit(url).hostname or url
        return (
            f"the simulator sends requests only to loopback hosts; {host} refused "
            "(start it with --callback-hosts any to allow other hosts)"
        )


__all__ = ["CallbackHosts", "EgressPolicy", "is_loopback_url"]
