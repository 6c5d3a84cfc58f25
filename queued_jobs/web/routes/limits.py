"""``/limits``: the app's concurrency and rate limits, each with the capacity or rate its
code gives, an operator's override and the value that applies, and its gates (who holds
a place, how many jobs are parked, a rate's recent starts); operators set and reset the
override (``PUT`` / ``DELETE /limits/{name}/setting``).

Access as for what is no one owner's (the dead letters): readers and operators see the
limits, only operators change them; end users are refused (``403``) on every route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...errors import InvalidInput
from ...limits import MAX_CAPACITY, MAX_RATE, LimitSettings
from ...limits import views as limit_views
from ...limits.client import LimitClient
from .._access import check_operator, check_sees_all
from .._errors import FieldsInvalid
from .._runtime import runtime_of
from .._views import job_urls
from ._common import Caller, errors

__all__ = ["router"]

router = APIRouter(tags=["limits"])
_SAID: Final = {
    403: "Limits are for readers and operators; changing one is for operators.",
    404: "No limit of that name (the app declares none, and none is stored).",
    409: "The limit's setting kept changing under the write; try again.",
}


class HolderView(BaseModel):
    """A job that holds a place in a gate."""

    job_id: str
    since: datetime
    #: It holds the place until then unless its heartbeat renews it.
    until: datetime
    #: ``false``: a parked job woken to take the place, not started yet.
    started: bool
    #: The job's URL.
    job: str


class GateView(BaseModel):
    """One gate of a limit: one key, as it stands."""

    key: str
    holders: list[HolderView]
    #: Jobs parked at the gate, counted up to 1,000 (``parked_more``: more).
    parked: int
    parked_more: bool
    #: ``"3"``, or ``"1000+"``.
    parked_text: str
    #: A rate limit's starts in the window that ends now (``null`` for other limits).
    starts: int | None
    #: A rate limit's line: when the next job to wait may come back.
    next_turn: datetime | None
    updated_at: datetime


class LimitSettingView(BaseModel):
    """What an operator set (``0``: paused)."""

    capacity: int | None
    rate: int | None
    updated_at: datetime
    #: Who set it.
    updated_by: str | None


class LimitLinks(BaseModel):
    self: str
    setting: str


class LimitView(BaseModel):
    name: str
    #: ``unknown``: no job type of this app passes it (its gates or setting are stored).
    kind: Literal["concurrency", "rate", "unknown"]
    #: The code's capacity (a concurrency limit) or rate (a rate limit).
    capacity: int | None
    rate: int | None
    #: A rate limit's window.
    per_seconds: float | None
    #: The key function, for people: ``by_request('customer_id')``, ``one gate``.
    keyed_by: str | None
    setting: LimitSettingView | None
    #: The operator's capacity or rate (``null``: the code's applies).
    override: int | None
    #: The capacity or rate that applies now.
    effective: int | None
    paused: bool
    #: ``at most 2 at once``, ``at most 10 starts per 1s``, ``paused``.
    description: str
    #: Live holders and parked jobs over the gates shown.
    holding: int
    parked: int
    parked_more: bool
    gates: list[GateView]
    #: More gates are stored than are shown.
    truncated: bool
    #: Gates that could not be read, as ``<limit>/<key>``.
    skipped: list[str]
    links: LimitLinks


class LimitList(BaseModel):
    items: list[LimitView]


class LimitSettingChange(BaseModel):
    """An operator's capacity (a concurrency limit) or rate (a rate limit), one of them:
    ``0`` pauses the limit."""

    model_config = ConfigDict(extra="forbid")

    capacity: Annotated[int | None, Field(strict=True, ge=0, le=MAX_CAPACITY)] = None
    rate: Annotated[int | None, Field(strict=True, ge=0, le=MAX_RATE)] = None

    @model_validator(mode="after")
    def _one_of_them(self) -> LimitSettingChange:
        if (self.capacity is None) == (self.rate is None):
            raise ValueError("give capacity (a concurrency limit) or rate (a rate limit), one")
        return self


async def _limits(request: Request) -> LimitClient:
    return (await runtime_of(request).client()).limits


def _setting_view(setting: LimitSettings | None) -> LimitSettingView | None:
    if setting is None:
        return None
    return LimitSettingView.model_validate(setting, from_attributes=True)


def _gate_view(request: Request, gate: limit_views.GateView) -> GateView:
    urls = job_urls(request)
    return GateView(
        key=gate.key,
        holders=[
            HolderView(
                job_id=held.job_id,
                since=held.since,
                until=held.until,
                started=held.started,
                job=urls.url("get_job", held.job_id),
            )
            for held in gate.holders
        ],
        parked=gate.parked,
        parked_more=gate.parked_more,
        parked_text=gate.parked_text,
        starts=gate.starts,
        next_turn=gate.next_turn,
        updated_at=gate.updated_at,
    )


def _view(request: Request, limit: limit_views.LimitView) -> LimitView:
    return LimitView(
        name=limit.name,
        kind=limit.kind,
        capacity=limit.capacity,
        rate=limit.rate,
        per_seconds=None if limit.per is None else limit.per.total_seconds(),
        keyed_by=limit.keyed_by,
        setting=_setting_view(limit.setting),
        override=limit.override,
        effective=limit.effective,
        paused=limit.paused,
        description=limit.describe(),
        holding=limit.holding,
        parked=limit.parked,
        parked_more=limit.parked_more,
        gates=[_gate_view(request, gate) for gate in limit.gates],
        truncated=limit.truncated,
        skipped=list(limit.skipped),
        links=LimitLinks(
            self=str(request.url_for("get_limit", name=limit.name)),
            setting=str(request.url_for("set_limit", name=limit.name)),
        ),
    )


@router.get(
    "/limits",
    response_model=LimitList,
    name="list_limits",
    operation_id="list_limits",
    responses=errors(403, described=_SAID),
)
async def list_limits(request: Request, caller: Caller) -> LimitList:
    """Every limit the app's job types pass, by name, then those with a setting stored
    that none passes (kind ``unknown``); each with its first 100 gates."""
    check_sees_all(caller, "seeing the limits")
    found = await (await _limits(request)).list_limits()
    return LimitList(items=[_view(request, limit) for limit in found])


@router.get(
    "/limits/{name}",
    response_model=LimitView,
    name="get_limit",
    operation_id="get_limit",
    responses=errors(403, 404, described=_SAID),
)
async def get_limit(name: str, request: Request, caller: Caller) -> LimitView:
    """One limit, with up to 500 of its gates (``truncated``: more are stored)."""
    check_sees_all(caller, "seeing the limits")
    return _view(request, await (await _limits(request)).get_limit(name))


@router.put(
    "/limits/{name}/setting",
    response_model=LimitView,
    name="set_limit",
    operation_id="set_limit",
    responses=errors(403, 404, 409, described=_SAID),
)
async def set_limit(
    name: str, body: LimitSettingChange, request: Request, caller: Caller
) -> LimitView:
    """Override the code's capacity (``{"capacity": N}``) or rate (``{"rate": N}``) of
    the limit, ``0`` to 1,000 (``0`` pauses it); the caller is recorded as who set it.
    Hosts apply it within 5 seconds. The wrong one for the limit's kind is ``422``."""
    check_operator(caller, "changing a limit")
    limits = await _limits(request)
    try:
        await limits.set_limit(name, capacity=body.capacity, rate=body.rate, by=caller.id)
    except InvalidInput as exc:
        given = "body.capacity" if body.capacity is not None else "body.rate"
        raise FieldsInvalid(str(exc), [{"field": given, "message": str(exc)}]) from None
    return _view(request, await limits.get_limit(name))


@router.delete(
    "/limits/{name}/setting",
    status_code=204,
    name="reset_limit",
    operation_id="reset_limit",
    responses=errors(403, 404, described=_SAID),
)
async def reset_limit(name: str, request: Request, caller: Caller) -> Response:
    """Forget the operator's setting: the code's capacity or rate applies again (``204``,
    also when none was set)."""
    check_operator(caller, "changing a limit")
    await (await _limits(request)).reset_limit(name)
    return Response(status_code=204)
