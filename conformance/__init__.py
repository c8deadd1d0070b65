"""Contract tests, BXML validation and a reference simulator for the Bandwidth Voice API."""

from importlib.metadata import PackageNotFoundError, version

from conformance.errors import ConfigurationError, ConformanceError

try:
    __version__ = version("bandwidth-voice-conformance")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["ConfigurationError", "ConformanceError", "__version__"]
