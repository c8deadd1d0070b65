"""A small voice app: an IVR menu that transfers, takes a message, or joins a conference room.

Run it with ``uvicorn examples.ivr.app:app --port 8000`` (from the repository root) and fuzz it with
``bw-conformance fuzz-app http://127.0.0.1:8000/``.  Every webhook may go to ``/`` or to
``/<eventType>``: the handler is chosen by the payload's ``eventType``, so one URL serves all.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Payload = Mapping[str, Any]
XML = "application/xml; charset=utf-8"

SALES_NUMBER = "+19195550142"
ROOM = "ivr-room"


def bxml(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n<Response>' + "".join(verbs) + "</Response>"


def say(text: str) -> str:
    return f"<SpeakSentence>{escape(text)}</SpeakSentence>"


class IvrHandlers:
    """One method per webhook event.  A method returns BXML text, or ``None`` for an empty 204."""

    def menu(self, greeting: str) -> str:
        prompt = say(f"{greeting} Press 1 for sales, 2 to leave a message, 3 for the conference room.")
        gather = f'<Gather gatherUrl="/gather" maxDigits="1" firstDigitTimeout="8">{prompt}</Gather>'
        return bxml(gather, say("We did not hear a choice. Goodbye."), "<Hangup/>")

    def initiate(self, payload: Payload) -> str | None:
        return self.menu("Thanks for calling.")

    def answer(self, payload: Payload) -> str | None:
        tag = payload.get("tag")
        greeting = f"Hello again, {tag}." if isinstance(tag, str) and tag.strip() else "Hello."
        return self.menu(greeting)

    def redirect(self, payload: Payload) -> str | None:
        return self.menu("Back to the main menu.")

    def gather(self, payload: Payload) -> str | None:
        digits = str(payload.get("digits") or "")
        choice = digits[:1]
        if choice == "1":
            target = f'<PhoneNumber transferAnswerUrl="/transferAnswer">{SALES_NUMBER}</PhoneNumber>'
            transfer = (
                f'<Transfer transferCompleteUrl="/transferComplete" callTimeout="30">{target}</Transfer>'
            )
            return bxml(say("Connecting you to sales."), transfer)
        if choice == "2":
            record = '<Record recordCompleteUrl="/recordComplete" maxDuration="120" terminatingDigits="#"/>'
            return bxml(say("Leave your message after the tone, then press pound."), record)
        if choice == "3":
            return bxml(
                say("Joining the room."), f'<Conference conferenceEventUrl="/conference">{ROOM}</Conference>'
            )
        heard = f"You pressed {digits}." if digits else "We did not hear anything."
        return self.menu(heard + " That is not an option.")

    def recordComplete(self, payload: Payload) -> str | None:
        return bxml(say("Thank you, your message was saved. Goodbye."), "<Hangup/>")

    def transferAnswer(self, payload: Payload) -> str | None:
        return bxml(say("A caller from the menu is on the line."))

    def transferComplete(self, payload: Payload) -> str | None:
        return bxml(say("The call has ended. Goodbye."), "<Hangup/>")

    def bridgeComplete(self, payload: Payload) -> str | None:
        return bxml("<Hangup/>")

    bridgeTargetComplete = bridgeComplete
    referComplete = bridgeComplete

    def conferenceCreated(self, payload: Payload) -> str | None:
        return bxml(say("The room is open."), "<StartRecording/>")

    def conferenceMemberJoin(self, payload: Payload) -> str | None:
        return bxml(say("Someone joined the room."))

    def conferenceMemberExit(self, payload: Payload) -> str | None:
        return None

    def conferenceRedirect(self, payload: Payload) -> str | None:
        return None

    def informational(self, payload: Payload) -> str | None:
        """disconnect, dtmf, recordingAvailable ...: the platform ignores the body."""
        return None

    def handler(self, event: str) -> Callable[[Payload], str | Awaitable[str | None] | None]:
        method = getattr(self, event, None) if event and not event.startswith("_") else None
        if callable(method) and event not in {"menu", "handler", "informational"}:
            return method  # type: ignore[no-any-return]
        return self.informational


async def read_payload(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query_params)
    body = await request.body()
    loaded = json.loads(body or b"{}")
    return loaded if isinstance(loaded, dict) else {}


def authorised(request: Request, credentials: tuple[str, str] | None) -> bool:
    if credentials is None:
        return True
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user, credentials[0]) and secrets.compare_digest(password, credentials[1])


def create_app(handlers: IvrHandlers | None = None, credentials: tuple[str, str] | None = None) -> Starlette:
    ivr = handlers or IvrHandlers()

    async def webhook(request: Request) -> Response:
        if not authorised(request, credentials):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="ivr"'})
        try:
            payload = await read_payload(request)
        except json.JSONDecodeError:
            return Response("not JSON", status_code=400)
        handle = ivr.handler(str(payload.get("eventType", "")))
        reply = handle(payload)
        if inspect.isawaitable(reply):  # handlers may be coroutines too
            reply = await reply
        if reply is None:
            return Response(status_code=204)
        return Response(reply, media_type=XML)

    routes = [
        Route("/", webhook, methods=["GET", "POST"]),
        Route("/{event}", webhook, methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes)


app = create_app()

__all__ = ["IvrHandlers", "app", "bxml", "create_app", "say"]
