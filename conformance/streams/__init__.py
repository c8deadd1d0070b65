"""Media streams over websockets (issue 14): the PCMU codec, the wire protocol and its checks, and
the stream sink that records what a target streams.  ``conformance.fuzz.streams`` plays the
platform's side against an app's stream handler."""

from __future__ import annotations

from conformance.streams.protocol import StreamProblem, check_app_message, check_platform_stream
from conformance.streams.sink import (
    StreamProblems,
    StreamScope,
    StreamSession,
    StreamSink,
    StreamTimeout,
    check_stream_webhooks,
)

__all__ = [
    "StreamProblem",
    "StreamProblems",
    "StreamScope",
    "StreamSession",
    "StreamSink",
    "StreamTimeout",
    "check_app_message",
    "check_platform_stream",
    "check_stream_webhooks",
]
