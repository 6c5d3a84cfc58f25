"""``GET /workers``: the hosts that run jobs (standalone workers, Functions instances) and
serve the API, as each last said it was (``JobRepository.list_presences``), for operators
and readers. One query of the store per call (on Azure, of the presence partition)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ...errors import PermissionDenied, StorageUnavailable
from ...execution.presence import EVERY_DETAIL, FUNCTIONS_PRESENCE_EVERY, PRESENCE_EVERY
from ...models import DetailValue, Presence, PresenceKind
from ...repositories.base import DEFAULT_PRESENCE_LIMIT
from .._runtime import runtime_of
from ..auth import Principal
from ._common import Caller, errors

__all__ = ["MAX_SEEN_WITHIN", "STALE_AFTER", "WorkerList", "WorkerView", "router"]

router = APIRouter(tags=["system"])
#: The longest look back (seconds): presences are purged a day after they were seen.
MAX_SEEN_WITHIN: Final = 86_400
_DEFAULT_SEEN_WITHIN: Final = 600
#: A host is stale once it has not been seen for this many of its intervals.
STALE_AFTER: Final = 2
#: How often each kind of host saves its presence, unless it says (``every_seconds``).
_EVERY: Final = {
    PresenceKind.WORKER: PRESENCE_EVERY,
    PresenceKind.API: PRESENCE_EVERY,
    PresenceKind.FUNCTIONS: FUNCTIONS_PRESENCE_EVERY,
}
#: The most an answer may take (``503`` past it).
_PATIENCE: Final = 30.0


class WorkerView(BaseModel):
    """One host, as it last said it was."""

    #: Its identity (``host:pid`` by default), as its leases and attempts name it.
    host: str
    kind: PresenceKind
    started_at: datetime
    seen_at: datetime
    #: The queued-jobs version it runs.
    version: str
    details: dict[str, DetailValue] = Field(
        description="What the host tells of itself: for a worker `queues`, `concurrency`, "
        "`running`, `held`, `finished`; for a Functions instance `queues`, `running`, "
        "`finished`; for every host `every_seconds` (how often it saves) and `stopped` "
        "(it said it stopped)."
    )
    stale: bool = Field(
        description=f"Not seen within {STALE_AFTER} of its intervals (`every_seconds`)."
    )


class WorkerList(BaseModel):
    #: Most recently seen first.
    items: list[WorkerView]
    generated_at: datetime


def _stale(presence: Presence, now: datetime) -> bool:
    told = presence.details.get(EVERY_DETAIL)
    every = (
        timedelta(seconds=told)
        if isinstance(told, int | float) and not isinstance(told, bool) and told > 0
        else _EVERY[presence.kind]
    )
    return now - presence.seen_at > STALE_AFTER * every


def _view(presence: Presence, now: datetime) -> WorkerView:
    return WorkerView(
        host=presence.host,
        kind=presence.kind,
        started_at=presence.started_at,
        seen_at=presence.seen_at,
        version=presence.version,
        details=dict(presence.details),
        stale=_stale(presence, now),
    )


def _check_sees_all(principal: Principal) -> None:
    if not principal.sees_all:
        raise PermissionDenied("the list of workers needs the operator or reader role")


@router.get("/workers", response_model=WorkerList, name="workers", responses=errors(403))
async def workers(
    request: Request,
    caller: Caller,
    seen_within: Annotated[int, Query(ge=1, le=MAX_SEEN_WITHIN)] = _DEFAULT_SEEN_WITHIN,
) -> WorkerList:
    """The hosts seen in the last ``seen_within`` seconds (at most 200), most recently seen
    first: standalone workers, Azure Functions instances and API servers. Operators and
    readers only."""
    _check_sees_all(caller)
    client = await runtime_of(request).client()
    now = client.clock.now()
    try:
        async with asyncio.timeout(_PATIENCE):
            found = await client.repository.list_presences(
                seen_since=now - timedelta(seconds=seen_within), limit=DEFAULT_PRESENCE_LIMIT
            )
    except TimeoutError:
        raise StorageUnavailable(
            f"the list of workers took more than {_PATIENCE:.0f} s; try later"
        ) from None
    return WorkerList(items=[_view(p, now) for p in found], generated_at=now)
