"""The Conferences operations: list/get/update conferences, their BXML, members and recordings."""

from __future__ import annotations

from starlette.responses import Response

from conformance.simulator.api_errors import ApiError, bad_request, conflict, not_found
from conformance.simulator.models import Callback, Conference
from conformance.simulator.ops_calls import page, validate_bxml
from conformance.simulator.ops_recordings import media_response
from conformance.simulator.render import conference_json, conference_recording_json, member_json
from conformance.simulator.runtime import Ctx, Operation, engine_call, json_response
from conformance.simulator.validation import Fields, parse_iso_time

__all__ = ["OPERATIONS"]

# Not allowed with state/status ``completed``.  The methods are tolerated: the official SDK always
# sends their defaults (``POST``), and the real API accepts that.
_REDIRECT_FIELDS = ("redirectUrl", "redirectFallbackUrl")


async def list_conferences(ctx: Ctx) -> Response:
    name = ctx.query("name")
    low = parse_iso_time("minCreatedTime", ctx.query("minCreatedTime"))
    high = parse_iso_time("maxCreatedTime", ctx.query("maxCreatedTime"))

    def keep(c: Conference) -> bool:
        if name is not None and c.name != name:
            return False
        if low is not None and c.created_time < low:
            return False
        return not (high is not None and c.created_time > high)

    conferences, headers = page(
        ctx,
        (c for c in ctx.store.conferences_of(ctx.account.id) if keep(c)),
        default=1000,
        maximum=1000,
        path=f"/accounts/{ctx.account.id}/conferences",
    )
    base = ctx.base
    return json_response([conference_json(base, c, with_members=False) for c in conferences], headers=headers)


async def get_conference(ctx: Ctx) -> Response:
    return json_response(conference_json(ctx.base, ctx.conference(), with_members=True))


async def update_conference(ctx: Ctx) -> Response:
    conference = ctx.conference()
    body = await ctx.json()
    f = Fields(body)
    status = f.enum("status", ("active", "completed")) or "active"
    redirect: Callback | None = None
    if status == "completed":
        for key in _REDIRECT_FIELDS:
            if body.get(key) is not None:
                raise bad_request(key, "is not allowed when status is completed")
        f.method("redirectMethod")
        f.method("redirectFallbackMethod")
        f.credentials("username", "password")
        f.credentials("fallbackUsername", "fallbackPassword")
    else:
        redirect = f.callback(
            "redirectUrl", "redirectMethod", "redirectFallbackUrl", "redirectFallbackMethod"
        )
        if redirect.url is None:
            raise bad_request("redirectUrl", "is required when status is active")
    if not conference.active:
        raise conflict("Conference", conference.id)
    engine_call(lambda: ctx.engine.conference_updated(conference, status, redirect))
    return Response(status_code=204)


async def update_conference_bxml(ctx: Ctx) -> Response:
    conference = ctx.conference()
    document = await ctx.xml()
    if not conference.active:
        raise conflict("Conference", conference.id)
    await validate_bxml(document, "conference")
    if not conference.active:  # it may have ended while the document was being validated
        raise conflict("Conference", conference.id)
    engine_call(lambda: ctx.engine.conference_bxml_replaced(conference, document))
    return Response(status_code=204)


async def get_member(ctx: Ctx) -> Response:
    conference = ctx.conference()
    member_id = ctx.param("memberId")
    member = conference.members.get(member_id)
    if member is None:
        raise not_found("Conference member", member_id)
    return json_response(member_json(ctx.base, conference, member))


async def update_member(ctx: Ctx) -> Response:
    conference = ctx.conference()
    member_id = ctx.param("memberId")
    member = conference.members.get(member_id)
    if member is None:
        raise not_found("Conference member", member_id)
    body = await ctx.json()
    f = Fields(body)
    mute, hold = f.boolean("mute", nullable=False), f.boolean("hold", nullable=False)
    coach_given = "callIdsToCoach" in body
    coach = body.get("callIdsToCoach")
    if coach is not None and (not isinstance(coach, list) or not all(isinstance(c, str) for c in coach)):
        raise bad_request("callIdsToCoach", "must be an array of call ids")
    if not conference.active:
        raise conflict("Conference", conference.id)
    before = (member.mute, member.hold, member.call_ids_to_coach)
    if mute is not None:
        member.mute = mute
    if hold is not None:
        member.hold = hold
    if coach_given:
        member.call_ids_to_coach = list(coach) if coach is not None else None
    try:
        engine_call(lambda: ctx.engine.member_updated(conference, member))
    except ApiError:
        member.mute, member.hold, member.call_ids_to_coach = before
        raise
    return Response(status_code=204)


async def list_conference_recordings(ctx: Ctx) -> Response:
    # A (potentially empty) list: the official spec words this list as it words the call
    # recordings list, which the live API answers with ``200 []`` for an unknown call; an unknown
    # (or another account's) conference likewise lists nothing rather than answering 404.
    conference = ctx.store.conference(ctx.param("conferenceId"))
    if conference is None or conference.account_id != ctx.account.id:
        return json_response([])
    base = ctx.base
    found = ctx.store.recordings_of_conference(conference.id)
    return json_response([conference_recording_json(base, conference, r) for r in found])


async def get_conference_recording(ctx: Ctx) -> Response:
    conference, recording = ctx.conference_recording()
    return json_response(conference_recording_json(ctx.base, conference, recording))


async def download_conference_recording(ctx: Ctx) -> Response:
    _, recording = ctx.conference_recording()
    return media_response(recording)


_CONF = "/accounts/{accountId}/conferences/{conferenceId}"

OPERATIONS = [
    Operation("listConferences", "GET", "/accounts/{accountId}/conferences", list_conferences),
    Operation("getConference", "GET", _CONF, get_conference),
    Operation("updateConference", "POST", _CONF, update_conference),
    Operation("updateConferenceBxml", "PUT", f"{_CONF}/bxml", update_conference_bxml),
    Operation("getConferenceMember", "GET", f"{_CONF}/members/{{memberId}}", get_member),
    Operation("updateConferenceMember", "PUT", f"{_CONF}/members/{{memberId}}", update_member),
    Operation("listConferenceRecordings", "GET", f"{_CONF}/recordings", list_conference_recordings),
    Operation(
        "getConferenceRecording", "GET", f"{_CONF}/recordings/{{recordingId}}", get_conference_recording
    ),
    Operation(
        "downloadConferenceRecording",
        "GET",
        f"{_CONF}/recordings/{{recordingId}}/media",
        download_conference_recording,
    ),
]
