"""The Calls operations: createCall, listCalls, getCallState, updateCall, updateCallBxml."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from conformance.bxml import first_blocking_error
from conformance.bxml.schema import explainer_loaded
from conformance.errors import ConformanceError
from conformance.simulator.api_errors import ApiError, bad_request, conflict
from conformance.simulator.models import Call
from conformance.simulator.render import call_state, call_url, create_call_response
from conformance.simulator.runtime import Ctx, Operation, engine_call, json_response
from conformance.simulator.validation import Fields, parse_create_call, parse_iso_time, parse_page_size

__all__ = ["OPERATIONS", "check_bxml", "page", "validate_bxml"]

T = TypeVar("T")

# Not allowed with state/status ``completed``.  The methods are tolerated: the official SDK always
# sends their defaults (``POST``), and the real API accepts that.
_REDIRECT_FIELDS = ("redirectUrl", "redirectFallbackUrl")
# Documents up to this size validate in well under a millisecond: cheaper inline than a thread hop.
_INLINE_BXML_CHARS = 4096


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int | None:
    """The offset a ``pageToken`` stands for; ``None`` for a token this API never issued."""
    if token is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    kind, _, number = raw.partition(":")
    if kind != "o" or not number.isdigit() or len(number) > 12:
        return None
    return int(number)


def page(
    ctx: Ctx, items: Iterable[T], *, default: int, maximum: int, path: str
) -> tuple[list[T], dict[str, str]]:
    """One page of ``items`` per ``pageSize``/``pageToken``, and the ``Link`` header for the next."""
    size = parse_page_size(ctx.query("pageSize"), default, maximum)
    offset = _decode_token(ctx.query("pageToken"))
    if offset is None:  # any string is a valid token per the contract: an unknown one ends the list
        return [], {}
    everything = list(items)
    chunk = everything[offset : offset + size]
    headers: dict[str, str] = {}
    if offset + size < len(everything):
        query = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "pageToken"]
        query.append(("pageToken", _encode_token(offset + size)))
        headers["Link"] = f'<{ctx.base}{path}?{urlencode(query)}>; rel="next"'
    return chunk, headers


def check_bxml(document: str, context: str) -> None:
    """400 with the validator's message when ``document`` is not valid BXML in ``context``.

    Warnings (the platform accepts the document: the attribute is ignored, or a documented
    requirement is not known to be enforced) do not make the simulator refuse it;
    ``bw-conformance bxml validate`` still prints them.
    """
    try:
        error = first_blocking_error(document, context)
    except ConformanceError as exc:  # the validator refused to go on: still the document's fault
        raise ApiError(400, f"Invalid BXML: {str(exc)[:500]}", rule=f"bxml-{exc.reason}") from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"Invalid BXML: {str(exc)[:500]}", rule="bxml-unreadable") from None
    if error is not None:
        raise ApiError(400, f"Invalid BXML: {error.message}", rule=f"bxml-{error.rule}")


async def create_call(ctx: Ctx) -> Response:
    body = await ctx.json()
    req = parse_create_call(body)
    if req.application_id not in ctx.account.applications:
        raise bad_request(
            "applicationId", f"application {req.application_id} does not belong to this account"
        )
    ctx.runtime.limiter.admit(ctx.account)
    store = ctx.store
    call = Call(
        account_id=ctx.account.id,
        call_id=store.new_call_id(),
        application_id=req.application_id,
        to=req.to,
        from_=req.from_,
        direction="outbound",
        tag=req.tag,
        answer=req.answer,
        disconnect=req.disconnect,
        call_timeout=req.call_timeout,
        callback_timeout=req.callback_timeout,
        priority=req.priority,
        display_name=req.display_name,
        privacy=req.privacy,
        uui=req.uui,
        machine_detection=req.machine_detection,
        request=body,
    )
    store.add_call(call)
    try:
        engine_call(lambda: ctx.engine.call_created(call))
    except BaseException:  # refused or crashed: leave nothing half-made
        store.calls.pop(call.call_id, None)
        raise
    base = ctx.base
    return json_response(create_call_response(base, call), 201, {"Location": call_url(base, call)})


async def list_calls(ctx: Ctx) -> Response:
    to, from_ = ctx.query("to"), ctx.query("from")
    cause = ctx.query("disconnectCause")
    low = parse_iso_time("minStartTime", ctx.query("minStartTime"))
    high = parse_iso_time("maxStartTime", ctx.query("maxStartTime"))

    def keep(call: Call) -> bool:
        if to is not None and call.to != to:
            return False
        if from_ is not None and call.from_ != from_:
            return False
        if cause is not None and call.disconnect_cause != cause:
            return False
        if low is not None and (call.start_time is None or call.start_time < low):
            return False
        return not (high is not None and (call.start_time is None or call.start_time > high))

    calls, headers = page(
        ctx,
        (c for c in ctx.store.calls_of(ctx.account.id) if keep(c)),
        default=1000,
        maximum=10000,
        path=f"/accounts/{ctx.account.id}/calls",
    )
    return json_response([call_state(c) for c in calls], headers=headers)


async def get_call_state(ctx: Ctx) -> Response:
    return json_response(call_state(ctx.call()))


async def update_call(ctx: Ctx) -> Response:
    call = ctx.call()
    body = await ctx.json()
    f = Fields(body)
    state = f.enum("state", ("active", "completed")) or "active"
    if state == "completed":
        for key in (*_REDIRECT_FIELDS, "tag"):
            if key in body and body[key] is not None:
                raise bad_request(key, "is not allowed when state is completed")
        f.method("redirectMethod")
        f.method("redirectFallbackMethod")
        f.credentials("username", "password")
        f.credentials("fallbackUsername", "fallbackPassword")
        if call.ended:
            raise ApiError(409, f"Call [{call.call_id}] cannot be modified in its current state",
                           rule="call-not-modifiable", error_id="")  # fmt: skip
        engine_call(lambda: ctx.engine.call_completed(call))
        return Response(status_code=200)
    redirect = f.callback("redirectUrl", "redirectMethod", "redirectFallbackUrl", "redirectFallbackMethod")
    tag = f.string("tag", max_len=4096)
    if redirect.url is None:
        raise bad_request("redirectUrl", "is required when state is active")
    if call.ended:
        raise ApiError(409, f"Call [{call.call_id}] cannot be modified in its current state",
                       rule="call-not-modifiable", error_id="")  # fmt: skip
    previous = call.tag
    if tag is not None:
        call.tag = tag or None
    try:
        engine_call(lambda: ctx.engine.call_redirected(call, redirect))
    except ApiError:
        call.tag = previous
        raise
    ctx.store.update_call(call.call_id)
    return Response(status_code=200)


async def validate_bxml(document: str, context: str) -> None:
    """:func:`check_bxml`, on a worker thread for documents big enough to take a while to validate,
    and for any document until the validator's explainer is built (see
    :func:`conformance.bxml.schema.explainer_loaded`), so one request never holds the event loop
    (and every other call) for that long."""
    if len(document) <= _INLINE_BXML_CHARS and explainer_loaded():
        check_bxml(document, context)
    else:
        await run_in_threadpool(check_bxml, document, context)


async def update_call_bxml(ctx: Ctx) -> Response:
    call = ctx.call()
    document = await ctx.xml()
    if call.ended:
        raise conflict("Call", call.call_id)
    await validate_bxml(document, "call")
    if call.ended:  # it may have ended while the document was being validated
        raise conflict("Call", call.call_id)
    engine_call(lambda: ctx.engine.call_bxml_replaced(call, document))
    return Response(status_code=204)


OPERATIONS = [
    Operation("createCall", "POST", "/accounts/{accountId}/calls", create_call),
    Operation("listCalls", "GET", "/accounts/{accountId}/calls", list_calls),
    Operation("getCallState", "GET", "/accounts/{accountId}/calls/{callId}", get_call_state),
    Operation("updateCall", "POST", "/accounts/{accountId}/calls/{callId}", update_call),
    Operation("updateCallBxml", "PUT", "/accounts/{accountId}/calls/{callId}/bxml", update_call_bxml),
]
