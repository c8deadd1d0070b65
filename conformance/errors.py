"""The project's exceptions.

Every exception the package raises on purpose derives from :class:`ConformanceError` and carries a
machine-readable ``reason``.  Each concrete class also subclasses the standard exception a caller
would naturally catch (``ValueError`` for bad input, ``LookupError`` for missing resources, ...).
"""

from __future__ import annotations


class ConformanceError(Exception):
    """Root of every error raised by ``conformance``."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class ConfigurationError(ConformanceError, ValueError):
    """Settings are missing, contradictory or malformed (CLI exit code 2)."""

    reason = "configuration"


class ResourceNotFoundError(ConformanceError, LookupError):
    """A packaged resource (``openapi/``, ``xsd/``) could not be located."""

    reason = "resource-not-found"


class TargetUnreachableError(ConformanceError, ConnectionError):
    """The target under test did not answer at all (CLI exit code 2)."""

    reason = "target-unreachable"


class SimulatorStartError(ConformanceError, RuntimeError):
    """The embedded simulator did not come up (in a thread or in its own process)."""

    reason = "simulator-start"


__all__ = [
    "ConfigurationError",
    "ConformanceError",
    "ResourceNotFoundError",
    "SimulatorStartError",
    "TargetUnreachableError",
]
