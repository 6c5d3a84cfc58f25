"""``/schedules``: make, read, list, change, pause, resume, trigger and delete recurring
schedules, preview their slots (``/schedules:preview`` for a rule not stored) and list the
slots they fired.

Access is as for jobs: an end user's schedules are their own (another owner's is ``404``
on every route), readers see every schedule and change only their own, operators do all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from ...errors import InvalidRule, PermissionDenied, UnknownTimeZone
from ...models import check_owner
from ...schedules import parse_rule, parse_zone
from ...schedules.client import ScheduleClient
from ...schedules.model import MAX_RULE_LENGTH, MAX_TIME_ZONE_LENGTH, Schedule
from .._access import check_may_change_schedule, check_may_see_schedule, listing_owner
from .._errors import FieldsInvalid
from .._runtime import runtime_of
from .._schedule_views import preview_views, schedule_view, slot_views
from .._views import job_view
from ..auth import Principal
from ..schemas import (
    MAX_PREVIEW_COUNT,
    JobView,
    ScheduleChange,
    ScheduleCreate,
    SchedulePage,
    SchedulePreview,
    ScheduleView,
    SlotView,
)
from ._common import Caller, errors
from .jobs import request_fields

__all__ = ["router"]

router = APIRouter(tags=["schedules"])

_SAID: Final = {
    404: "No such schedule (or it is another owner's), or no such job type.",
    409: "The owner has a schedule of that name, or the schedule changed meanwhile.",
}
_Count = Annotated[int, Query(ge=1, le=MAX_PREVIEW_COUNT, description="How many slots.")]
_Zone = Annotated[str | None, Query(min_length=1, max_length=MAX_TIME_ZONE_LENGTH)]


async def _schedules(request: Request) -> ScheduleClient:
    return ScheduleClient(await runtime_of(request).client())


def _check_rule(rule: str | None, time_zone: str | None, where: str) -> None:
    """Refuse a rule or time zone that cannot be read, field by field (``where``:
    ``body`` or ``query``), before anything is read or written."""
    fields = []
    if rule is not None:
        try:
            parse_rule(rule)
        except InvalidRule as exc:
            fields.append({"field": f"{where}.rule", "message": str(exc)})
    if time_zone is not None:
        try:
            parse_zone(time_zone)
        except UnknownTimeZone as exc:
            fields.append({"field": f"{where}.time_zone", "message": str(exc)})
    if fields:
        raise FieldsInvalid("the rule or the time zone cannot be used: see fields", fields)


def _check_request(client: ScheduleClient, job_type: str, body: Any) -> None:
    definition = client.client.registry.get(job_type)  # UnknownJobType: 404
    try:
        definition.validate_request(body)
    except ValidationError as exc:
        raise request_fields(job_type, exc) from None


async def _seen(client: ScheduleClient, schedule_id: str, caller: Principal) -> Schedule:
    return check_may_see_schedule(caller, await client.get_schedule(schedule_id))


async def _changeable(client: ScheduleClient, schedule_id: str, caller: Principal) -> Schedule:
    return check_may_change_schedule(caller, await client.get_schedule(schedule_id))


def _never_fires(exc: InvalidRule, where: str = "body") -> FieldsInvalid:
    return FieldsInvalid(str(exc), [{"field": f"{where}.rule", "message": str(exc)}])


@router.post(
    "/schedules",
    status_code=201,
    response_model=ScheduleView,
    name="create_schedule",
    operation_id="create_schedule",
    responses=errors(403, 404, 409, 413, described=_SAID),
)
async def create_schedule(
    body: ScheduleCreate, request: Request, response: Response, caller: Caller
) -> ScheduleView:
    """Make a schedule: ``201 Created`` with ``Location``. Its owner is the caller (an
    operator may name another). The request is validated against the job type's request
    type, the rule and time zone are read (``422`` lists the fields), and the rule must
    fire again after now; an unknown type is ``404``, a name the owner has ``409``."""
    owner = caller.id if body.owner is None else check_owner(body.owner)
    if owner != caller.id and not caller.acts_on_all:
        raise PermissionDenied("making a schedule for another owner needs the operator role")
    _check_rule(body.rule, body.time_zone, "body")
    client = await _schedules(request)
    _check_request(client, body.type, body.request)
    run_time = body.max_run_time_seconds
    try:
        made = await client.create_schedule(
            body.type,
            body.request,
            owner=owner,
            name=body.name,
            rule=body.rule,
            time_zone=body.time_zone,
            catch_up=body.catch_up,
            catch_up_limit=body.catch_up_limit,
            overlap=body.overlap,
            priority=body.priority,
            max_attempts=body.max_attempts,
            max_run_time=None if run_time is None else timedelta(seconds=run_time),
            tags=body.tags,
            paused=body.paused,
        )
    except InvalidRule as exc:  # RuleNeverFires: no slot after now
        raise _never_fires(exc) from None
    view = schedule_view(request, made)
    response.headers["Location"] = view.links.self
    return view


@router.get(
    "/schedules",
    response_model=SchedulePage,
    name="list_schedules",
    operation_id="list_schedules",
    responses=errors(),
)
async def list_schedules(
    request: Request,
    caller: Caller,
    owner: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> SchedulePage:
    """Schedules, newest first: the caller's own, or (operators and readers) every
    owner's or ``owner``'s. Follow ``next`` (or pass ``next_cursor`` as ``cursor``) for
    the next page."""
    chosen = listing_owner(caller, owner)
    if owner is not None and chosen != owner:  # someone else's: none, for this caller
        return SchedulePage(items=[], next_cursor=None, next=None, skipped=[])
    client = await _schedules(request)
    page = await client.list_schedules(owner=chosen, limit=limit, continuation=cursor)
    following = None
    if page.continuation is not None:
        following = str(request.url.include_query_params(cursor=page.continuation))
    return SchedulePage(
        items=[schedule_view(request, schedule) for schedule in page.items],
        next_cursor=page.continuation,
        next=following,
        skipped=list(page.skipped),
    )


@router.get(
    "/schedules:preview",
    response_model=SchedulePreview,
    name="preview_rule",
    operation_id="preview_rule",
    responses=errors(),
)
async def preview_rule(
    request: Request,
    caller: Caller,
    rule: Annotated[str, Query(min_length=1, max_length=MAX_RULE_LENGTH)],
    time_zone: _Zone = None,
    count: _Count = 10,
) -> SchedulePreview:
    """The next ``count`` slots of a rule not stored, in ``time_zone`` (default UTC),
    each in UTC and in local time: to try a rule before making a schedule of it."""
    zone = time_zone or "UTC"
    _check_rule(rule, zone, "query")
    slots = await (await _schedules(request)).preview(rule, count, time_zone=zone)
    return SchedulePreview(rule=parse_rule(rule).text, time_zone=zone, slots=preview_views(slots))


@router.get(
    "/schedules/{schedule_id}",
    response_model=ScheduleView,
    name="get_schedule",
    operation_id="get_schedule",
    responses=errors(404, described=_SAID),
)
async def get_schedule(schedule_id: str, request: Request, caller: Caller) -> ScheduleView:
    """A schedule: its rule, zone, next slot (UTC and local), options and last job."""
    client = await _schedules(request)
    return schedule_view(request, await _seen(client, schedule_id, caller))


@router.patch(
    "/schedules/{schedule_id}",
    response_model=ScheduleView,
    name="update_schedule",
    operation_id="update_schedule",
    responses=errors(403, 404, 409, 413, described=_SAID),
)
async def update_schedule(
    schedule_id: str, body: ScheduleChange, request: Request, caller: Caller
) -> ScheduleView:
    """Change the fields given. A new ``rule`` or ``time_zone`` moves the next slot to
    the rule's first after now; a new ``type`` or ``request`` is validated as when made."""
    client = await _schedules(request)
    schedule = await _changeable(client, schedule_id, caller)
    given = body.model_dump(exclude_unset=True)
    _check_rule(given.get("rule"), given.get("time_zone"), "body")
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name == "type":
            changes["job_type"] = value
        elif name == "max_run_time_seconds":
            changes["max_run_time"] = None if value is None else timedelta(seconds=value)
        else:
            changes[name] = value
    if "job_type" in changes or "request" in changes:
        job_type = changes.get("job_type") or schedule.job_type
        _check_request(client, job_type, changes.get("request", schedule.request))
    try:
        changed = await client.update_schedule(schedule.id, **changes)
    except InvalidRule as exc:
        raise _never_fires(exc) from None
    return schedule_view(request, changed)


@router.post(
    "/schedules/{schedule_id}:pause",
    response_model=ScheduleView,
    name="pause_schedule",
    operation_id="pause_schedule",
    responses=errors(403, 404, 409, described=_SAID),
)
async def pause_schedule(schedule_id: str, request: Request, caller: Caller) -> ScheduleView:
    """Pause the schedule: it fires nothing until resumed (a paused one stays as it is)."""
    client = await _schedules(request)
    await _changeable(client, schedule_id, caller)
    return schedule_view(request, await client.pause(schedule_id))


@router.post(
    "/schedules/{schedule_id}:resume",
    response_model=ScheduleView,
    name="resume_schedule",
    operation_id="resume_schedule",
    responses=errors(403, 404, 409, described=_SAID),
)
async def resume_schedule(schedule_id: str, request: Request, caller: Caller) -> ScheduleView:
    """Resume a paused schedule from now: its next slot is the rule's first after now, so
    the slots that passed while it was paused are not caught up."""
    client = await _schedules(request)
    await _changeable(client, schedule_id, caller)
    try:
        return schedule_view(request, await client.resume(schedule_id))
    except InvalidRule as exc:
        raise _never_fires(exc) from None


@router.post(
    "/schedules/{schedule_id}:trigger",
    status_code=202,
    response_model=JobView,
    name="trigger_schedule",
    operation_id="trigger_schedule",
    responses=errors(403, 404, 409, described=_SAID),
)
async def trigger_schedule(
    schedule_id: str, request: Request, response: Response, caller: Caller
) -> JobView:
    """Start one job of the schedule now, paused or not: ``202`` with the job and its
    ``Location``. The schedule's slots are left as they are."""
    client = await _schedules(request)
    await _changeable(client, schedule_id, caller)
    view = job_view(request, await client.trigger_now(schedule_id), caller)
    response.headers["Location"] = view.links.self
    return view


@router.delete(
    "/schedules/{schedule_id}",
    status_code=204,
    name="delete_schedule",
    operation_id="delete_schedule",
    responses=errors(403, 404, described=_SAID),
)
async def delete_schedule(schedule_id: str, request: Request, caller: Caller) -> Response:
    """Delete the schedule and the record of its fired slots: ``204`` (its jobs stay)."""
    client = await _schedules(request)
    await _changeable(client, schedule_id, caller)
    await client.delete_schedule(schedule_id)
    return Response(status_code=204)


@router.get(
    "/schedules/{schedule_id}/preview",
    response_model=SchedulePreview,
    name="preview_schedule",
    operation_id="preview_schedule",
    responses=errors(404, described=_SAID),
)
async def preview_schedule(
    schedule_id: str,
    request: Request,
    caller: Caller,
    count: _Count = 10,
    time_zone: _Zone = None,
) -> SchedulePreview:
    """The schedule's next ``count`` slots after now, in UTC and local time (in its own
    zone, or in ``time_zone``, as a change of zone would run it)."""
    client = await _schedules(request)
    schedule = await _seen(client, schedule_id, caller)
    _check_rule(None, time_zone, "query")
    zone = time_zone or schedule.time_zone
    slots = await client.preview(schedule, count, time_zone=zone)
    return SchedulePreview(rule=schedule.rule, time_zone=zone, slots=preview_views(slots))


@router.get(
    "/schedules/{schedule_id}/slots",
    response_model=list[SlotView],
    name="list_schedule_slots",
    operation_id="list_schedule_slots",
    responses=errors(404, described=_SAID),
)
async def list_schedule_slots(
    schedule_id: str,
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[SlotView]:
    """The slots the schedule fired, newest first: each with its job, when and where."""
    client = await _schedules(request)
    schedule = await _seen(client, schedule_id, caller)
    return slot_views(request, await client.list_slots(schedule.id, limit=limit))
