"""The example IVR app (loaded from ``examples/ivr/app.py``) and variants with one planted bug each."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_PATH = Path(__file__).resolve().parents[2] / "examples" / "ivr" / "app.py"
_spec = importlib.util.spec_from_file_location("ivr_example_app", _PATH)
assert _spec is not None
assert _spec.loader is not None
ivr = importlib.util.module_from_spec(_spec)
sys.modules["ivr_example_app"] = ivr
_spec.loader.exec_module(ivr)

IvrHandlers = ivr.IvrHandlers
create_app = ivr.create_app
bxml = ivr.bxml
say = ivr.say


class UnescapedTag(IvrHandlers):
    """Greets with the call's tag pasted into the XML as it is."""

    def answer(self, payload: Any) -> str | None:
        tag = payload.get("tag")
        if isinstance(tag, str) and tag:
            return bxml(f"<SpeakSentence>Hello again, {tag}.</SpeakSentence>")
        return self.menu("Hello.")


class CrashOnEmptyDigits(IvrHandlers):
    """Converts the digits to a number, which fails on a timeout ("") and on * or #."""

    def gather(self, payload: Any) -> str | None:
        choice = int(payload.get("digits", "0"))
        return bxml(say(f"You chose {choice}."), "<Hangup/>")


class GatherInConference(IvrHandlers):
    """Asks each new conference member for a PIN: Gather is not a conference verb."""

    def conferenceMemberJoin(self, payload: Any) -> str | None:
        return bxml('<Gather gatherUrl="/pin" maxDigits="4">' + say("Enter your PIN.") + "</Gather>")


class TransferFromTransferAnswer(IvrHandlers):
    """Tries to forward the answered B-leg again: Transfer is not allowed in transferAnswer BXML."""

    def transferAnswer(self, payload: Any) -> str | None:
        return bxml("<Transfer><PhoneNumber>+19195550199</PhoneNumber></Transfer>")


class PatientMenu(IvrHandlers):
    """Waits 90 s for the first key: firstDigitTimeout is capped at 60."""

    def menu(self, greeting: str) -> str:
        prompt = say(f"{greeting} Press 1 for sales.")
        return bxml(f'<Gather gatherUrl="/gather" maxDigits="1" firstDigitTimeout="90">{prompt}</Gather>')


class EmptyTransferComplete(IvrHandlers):
    """Answers transferComplete with nothing; the A-leg then has no BXML to run."""

    def transferComplete(self, payload: Any) -> str | None:
        return None


class CrashOnDisconnectWithoutError(IvrHandlers):
    """Logs the disconnect's errorMessage, which is absent or null on a normal hang-up."""

    def informational(self, payload: Any) -> str | None:
        if payload.get("eventType") == "disconnect":
            payload["errorMessage"].strip()
        return None


class SlowRedirect(IvrHandlers):
    """Looks something up before answering redirect, and the look-up never returns."""

    async def redirect(self, payload: Any) -> str | None:  # type: ignore[override]
        await asyncio.Event().wait()
        return self.menu("Back to the menu.")


def not_found_for(event: str) -> Starlette:
    """The IVR, except that one event type gets a 404 (a route the developer forgot)."""
    handlers = IvrHandlers()

    async def webhook(request: Request) -> Response:
        payload = await request.json()
        if payload.get("eventType") == event:
            return Response("no such route", status_code=404)
        reply = handlers.handler(payload["eventType"])(payload)
        return Response(status_code=204) if reply is None else Response(reply, media_type="application/xml")

    return Starlette(routes=[Route("/", webhook, methods=["POST"])])


def wsgi_ivr(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The IVR as a plain WSGI app (POST JSON only)."""
    import json

    size = int(environ.get("CONTENT_LENGTH") or 0)
    payload = json.loads(environ["wsgi.input"].read(size) or b"{}")
    reply = IvrHandlers().handler(str(payload.get("eventType", "")))(payload)
    if reply is None:
        start_response("204 No Content", [])
        return []
    body = reply.encode()
    start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


__all__ = [
    "CrashOnDisconnectWithoutError",
    "CrashOnEmptyDigits",
    "EmptyTransferComplete",
    "GatherInConference",
    "IvrHandlers",
    "PatientMenu",
    "SlowRedirect",
    "TransferFromTransferAnswer",
    "UnescapedTag",
    "create_app",
    "not_found_for",
    "wsgi_ivr",
]
