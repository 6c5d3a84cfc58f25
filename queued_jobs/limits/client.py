"""Seeing and changing limits at run time: :class:`LimitClient` (``client.limits``).

A limit client works over a :class:`~queued_jobs.client.JobClient`: its registry (the
limits the app's job types pass), its repository's
:attr:`~queued_jobs.repositories.base.JobRepository.limits` store and its clock. It reads
each limit's gates (who holds a place, how many jobs are parked, a rate's recent starts)
and keeps the operator's settings (:class:`~queued_jobs.limits.model.LimitSettings`) that
override a capacity or rate.

Reads are bounded: at most a few pages of gates per limit (a view says when more are
stored), parked jobs counted up to :data:`~queued_jobs.limits.views.PARKED_COUNTED` per
gate. Limits no job type of the app passes are shown only when asked for by name, or when
an operator's setting of theirs is stored (kind ``unknown``): another app's limits on the
same store stay out of the listing.

Errors: ``LimitNotFound`` for a name the app does not declare and the store knows nothing
of; ``InvalidInput`` for a setting out of range or of the wrong kind;
``ConcurrencyConflict`` when the setting kept changing under a write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from ..errors import ConcurrencyConflict, InvalidInput, LimitNotFound
from ..repositories._gates import check_limit_name
from ..repositories._records import problems
from .definitions import ConcurrencyLimit, Limit, RateLimit
from .model import MAX_CAPACITY, MAX_RATE, Gate, LimitSettings
from .store import LimitStore
from .views import PARKED_COUNTED, GateView, HolderView, LimitKind, LimitView

if TYPE_CHECKING:
    from ..client import JobClient
    from .keeper import LimitKeeper

__all__ = ["GATE_PAGE_SIZE", "LimitClient"]

#: Gates read per page, and the most pages read for one limit's view (a listing reads one).
GATE_PAGE_SIZE: Final = 100
_PAGES_SHOWN: Final = 5
_PAGES_LISTED: Final = 1
#: Parked jobs' counts asked for at once.
_COUNTS_AT_ONCE: Final = 8
#: Reads and writes one change of a setting tries before giving up.
_TRIES: Final = 5


class LimitClient:
    """Lists the app's limits with their gates, and sets or resets an operator's capacity
    or rate::

        async with app.client() as client:
            for limit in await client.limits.list_limits():
                print(limit.name, limit.describe(), limit.holding, limit.parked)
            await client.limits.set_limit("exports", capacity=4, by="ops")

    ``keeper``: the limits' keeper of a pipeline in this process (an inline client's), whose
    cached settings are forgotten when a setting changes here; other hosts read the new
    setting within 5 seconds.
    """

    def __init__(self, client: JobClient, *, keeper: LimitKeeper | None = None) -> None:
        self.client = client
        self._keeper = keeper

    @property
    def store(self) -> LimitStore:
        return self.client.repository.limits

    def _now(self) -> datetime:
        return self.client.clock.now()

    def _all(self) -> list[Limit]:
        """The limits the job types pass, and the owner share's, if the app has one."""
        share = self.client.settings.owner_share
        return [*self.client.registry.limits(), *([share.limit] if share is not None else [])]

    def _declared(self, name: str) -> Limit | None:
        return next((limit for limit in self._all() if limit.name == name), None)

    def _not_found(self, name: object) -> LimitNotFound:
        shown = name if isinstance(name, str) else repr(name)
        return LimitNotFound(shown, [limit.name for limit in self._all()])

    # --- reading -----------------------------------------------------------------------

    async def list_limits(self) -> list[LimitView]:
        """Every limit the app's job types pass, by name, and the owner share's
        (``owner-share``, if the app has one), then the names of limits with an operator's
        setting stored that none passes (kind ``unknown``). Each with its first
        page of gates (:data:`GATE_PAGE_SIZE`; ``truncated`` says when there are more)."""
        settings = {found.limit: found for found in await self.store.list_limit_settings()}
        names = [limit.name for limit in self._all()]
        names += sorted(set(settings) - set(names))
        return [await self._view(name, settings.get(name), pages=_PAGES_LISTED) for name in names]

    async def get_limit(self, name: str) -> LimitView:
        """The limit ``name`` with up to 5 pages of :data:`GATE_PAGE_SIZE` of its gates.

        A name no job type passes is shown from what is stored (kind ``unknown``), and is
        ``LimitNotFound`` when nothing is (no gate, no setting), as is a name no limit can
        have."""
        self._check_name(name)
        view = await self._view(name, await self.store.load_limit_settings(name))
        if view.kind == "unknown" and view.setting is None and not view.gates:
            raise self._not_found(name)
        return view

    def _check_name(self, name: object) -> None:
        """``LimitNotFound`` at once for what is no limit's name: no store is asked."""
        if not isinstance(name, str):
            raise self._not_found(name)
        try:
            check_limit_name(name)
        except InvalidInput:
            raise self._not_found(name) from None

    async def _view(
        self, name: str, setting: LimitSettings | None, *, pages: int = _PAGES_SHOWN
    ) -> LimitView:
        gates, truncated, skipped = await self._gates(name, pages)
        limit = self._declared(name)
        per = limit.per if isinstance(limit, RateLimit) else None
        now = self._now()
        counted = await _bounded_gather([self._gate_view(gate, per, now) for gate in gates])
        return LimitView(
            name=name,
            kind=_kind(limit),
            capacity=limit.capacity if isinstance(limit, ConcurrencyLimit) else None,
            rate=limit.rate if isinstance(limit, RateLimit) else None,
            per=per,
            keyed_by=None if limit is None else _key_name(limit),
            setting=setting,
            gates=tuple(sorted(counted, key=lambda gate: gate.key)),
            truncated=truncated,
            skipped=tuple(skipped),
        )

    async def _gates(self, name: str, pages: int) -> tuple[list[Gate], bool, list[str]]:
        gates: list[Gate] = []
        skipped: list[str] = []
        continuation = None
        for _ in range(pages):
            page = await self.store.list_gates(
                limit=name, page_size=GATE_PAGE_SIZE, continuation=continuation
            )
            gates.extend(page.items)
            skipped.extend(page.skipped)
            continuation = page.continuation
            if continuation is None:
                break
        return gates, continuation is not None, skipped

    async def _gate_view(self, gate: Gate, per: timedelta | None, now: datetime) -> GateView:
        parked = 0
        if gate.has_waiters:
            parked = await self.store.count_waiters(gate.limit, gate.key, at_most=PARKED_COUNTED)
        live = sorted(gate.live_holders(now).items(), key=lambda item: item[1].since)
        starts = None
        if per is not None:
            starts = sum(1 for start in gate.starts if start > now - per)
        return GateView(
            key=gate.key,
            holders=tuple(
                HolderView(job_id=job_id, since=held.since, until=held.until, started=held.started)
                for job_id, held in live
            ),
            parked=min(parked, PARKED_COUNTED),
            parked_more=parked > PARKED_COUNTED,
            starts=starts,
            next_turn=gate.next_turn
            if gate.next_turn is not None and gate.next_turn > now
            else None,
            updated_at=gate.updated_at,
        )

    # --- changing ----------------------------------------------------------------------

    async def set_limit(
        self,
        name: str,
        *,
        capacity: int | None = None,
        rate: int | None = None,
        by: str | None = None,
    ) -> LimitSettings:
        """Override the code's capacity (a concurrency limit) or rate (a rate limit) of the
        limit ``name``: ``0`` pauses it, up to 1,000. ``by`` names who set it, for the
        record. Returns the setting stored; hosts apply it within 5 seconds.

        ``LimitNotFound`` for a limit no job type of the app passes (its kind is not
        known here); ``InvalidInput`` for a value out of range, neither or both given, or
        the wrong one for the limit's kind."""
        self._check_name(name)
        limit = self._declared(name)
        if limit is None:
            raise self._not_found(name)
        _check_setting(limit, capacity, rate)
        for _ in range(_TRIES):
            stored = await self.store.load_limit_settings(name)
            wanted = _setting(name, capacity, rate, self._now(), by, stored)
            try:
                saved = await self.store.save_limit_settings(wanted)
            except ConcurrencyConflict:
                continue
            self._forget(name)
            return saved
        raise ConcurrencyConflict(name, kind="limit settings of")

    async def reset_limit(self, name: str) -> None:
        """Forget the operator's setting of ``name``: its code's value applies again (a
        limit with none set stays as it is). ``LimitNotFound`` for a name that neither the
        app declares nor has a setting stored."""
        self._check_name(name)
        if self._declared(name) is None and await self.store.load_limit_settings(name) is None:
            raise self._not_found(name)
        await self.store.delete_limit_settings(name)
        self._forget(name)

    def _forget(self, name: str) -> None:
        if self._keeper is not None:
            self._keeper.forget_settings(name)


def _setting(
    name: str,
    capacity: int | None,
    rate: int | None,
    now: datetime,
    by: str | None,
    stored: LimitSettings | None,
) -> LimitSettings:
    try:
        return LimitSettings(
            limit=name,
            capacity=capacity,
            rate=rate,
            updated_at=now,
            updated_by=by or None,
            version=None if stored is None else stored.version,
        )
    except ValidationError as exc:  # who set it: too long, or with control characters
        raise InvalidInput(
            f"the setting of limit {name!r} cannot be stored: {problems(exc)}"
        ) from None


def _check_setting(limit: Limit, capacity: int | None, rate: int | None) -> None:
    if (capacity is None) == (rate is None):
        raise InvalidInput(f"give the limit {limit.name!r} a capacity or a rate (one of them)")
    if isinstance(limit, ConcurrencyLimit):
        if capacity is None:
            raise InvalidInput(
                f"{limit.name!r} is a concurrency limit: set its capacity, not a rate"
            )
        _check_value("capacity", capacity, MAX_CAPACITY)
    else:
        if rate is None:
            raise InvalidInput(f"{limit.name!r} is a rate limit: set its rate, not a capacity")
        _check_value("rate", rate, MAX_RATE)


def _check_value(what: str, value: object, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"a limit's {what} is a whole number, not {type(value).__name__}")
    if not 0 <= value <= most:
        raise InvalidInput(f"a limit's {what} is 0 (paused) to {most:,}, not {value:,}")


def _kind(limit: Limit | None) -> LimitKind:
    if isinstance(limit, ConcurrencyLimit):
        return "concurrency"
    if isinstance(limit, RateLimit):
        return "rate"
    return "unknown"


def _key_name(limit: Limit) -> str:
    name = getattr(limit.key, "__qualname__", None) or repr(limit.key)
    return "one gate" if name == "_one_gate" else name


async def _bounded_gather(calls: Sequence[Coroutine[Any, Any, GateView]]) -> list[GateView]:
    """Await ``calls``, a few at a time; their answers in order."""
    chosen = asyncio.Semaphore(_COUNTS_AT_ONCE)

    async def one(call: Coroutine[Any, Any, GateView]) -> GateView:
        async with chosen:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))
