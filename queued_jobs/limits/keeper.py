"""The keeper of limits for one host: takes, renews and gives back a job's places, takes
rate starts, parks jobs and wakes them, on the store's gates.

Each gate is changed under the version read (``rules.py`` decides, the store's
conditional write settles races between hosts). Within a process, changes of one gate
wait for each other and start from the gate as this process last stored it, so that a
host alone at a gate pays one write per change, not a read and a write.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from ..clock import Clock
from ..errors import ConcurrencyConflict, QueuedJobsError
from ..models import QueuedJob
from ..models.waiting import JobWaiting, WaitKind
from ..telemetry.logs import library_logger
from .definitions import ConcurrencyLimit, Limit, RateLimit
from .model import Gate, LimitSettings, Waiter
from .rules import Change, give_back, renew, take_place, take_start, wake
from .store import MAX_WAITERS_REMOVED, LimitStore

__all__ = ["Blocked", "JobGate", "LimitKeeper", "gates_of"]

log = library_logger("queued_jobs.limits")
_TRIES: Final = 12
_CACHED_GATES: Final = 4096
_FIRST_RECHECK: Final = timedelta(minutes=1)
_LONGEST_RECHECK: Final = timedelta(hours=1)
_WAKE_SENDS: Final = 3
#: The most parked jobs one change wakes (the rest: the next change, or the sweep), so
#: that a write's removals stay within what one write takes.
_MOST_WOKEN: Final = 64

WakeSender = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobGate:
    """One gate a job passes: a limit and the job's key for it."""

    limit: Limit
    key: str

    @property
    def ident(self) -> tuple[str, str]:
        return self.limit.name, self.key


def gates_of(limits: Sequence[Limit], job: QueuedJob) -> tuple[JobGate, ...]:
    """The gates ``job`` passes: concurrency limits first (by name), then rates, so that
    a job held back by a place never uses a start. Raises what a key function raises."""
    found = [JobGate(limit, key) for limit in limits if (key := limit.gate_key(job)) is not None]
    return tuple(sorted(found, key=lambda g: (isinstance(g.limit, RateLimit), g.ident)))


@dataclass(frozen=True, slots=True)
class _Asked:
    """One change of a gate asked for, and the future its answer comes in."""

    rule: Callable[[Gate, datetime], Change | None]
    capacity: int | None
    answer: asyncio.Future[Change | None]


@dataclass(frozen=True, slots=True)
class Blocked:
    """A job that may not start yet: the gate that holds it back and what its record is
    to say. For a rate, ``waiting.until`` is its turn."""

    gate: JobGate
    waiting: JobWaiting


class LimitKeeper:
    """Gates for one host, on ``store``; ``send_wake(queue, job_id)`` sends a parked job
    its message when a place is kept for it."""

    def __init__(
        self,
        store: LimitStore,
        send_wake: WakeSender,
        *,
        clock: Clock,
        lease: timedelta,
        wake_grace: timedelta = timedelta(seconds=30),
        settings_ttl: timedelta = timedelta(seconds=5),
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self._send_wake = send_wake
        self._clock = clock
        self._lease = lease
        self._grace = wake_grace
        self._settings_ttl = settings_ttl.total_seconds()
        self._rng = rng or random.Random()
        self._gates: OrderedDict[tuple[str, str], Gate] = OrderedDict()
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._asked: dict[tuple[str, str], list[_Asked]] = {}
        self._settings: dict[str, tuple[float, LimitSettings | None]] = {}

    # --- what applies now ---------------------------------------------------------------

    async def settings(self, name: str) -> LimitSettings | None:
        """What an operator set for the limit, as read at most ``settings_ttl`` ago."""
        loop = asyncio.get_running_loop()
        cached = self._settings.get(name)
        if cached is not None and loop.time() - cached[0] < self._settings_ttl:
            return cached[1]
        try:
            found = await self.store.load_limit_settings(name)
        except QueuedJobsError as exc:
            if cached is None:
                raise
            log.warning("limit %r: its settings could not be read (%s); as before", name, exc)
            return cached[1]
        self._settings[name] = (loop.time(), found)
        return found

    def forget_settings(self, name: str) -> None:
        """Read the limit's settings again next time (this host just changed them)."""
        self._settings.pop(name, None)

    async def capacity(self, limit: ConcurrencyLimit) -> int:
        found = await self.settings(limit.name)
        return limit.capacity if found is None or found.capacity is None else found.capacity

    async def rate(self, limit: RateLimit) -> int:
        found = await self.settings(limit.name)
        return limit.rate if found is None or found.rate is None else found.rate

    # --- a job's way through ------------------------------------------------------------

    async def enter(
        self, job: QueuedJob, gates: Sequence[JobGate], *, turn: datetime | None = None
    ) -> list[JobGate] | Blocked:
        """Take ``job``'s places and starts, in order; the concurrency gates it holds, or
        the gate that holds it back (with the places taken so far given back). ``turn``:
        a rate turn the job holds (else the one its record says, if any)."""
        taken: list[JobGate] = []
        for gate in gates:
            blocked = await self._pass(job, gate, turn)
            if blocked is not None:
                await self.leave(job.id, taken)
                return blocked
            if isinstance(gate.limit, ConcurrencyLimit):
                taken.append(gate)
        return taken

    async def _pass(self, job: QueuedJob, gate: JobGate, turn: datetime | None) -> Blocked | None:
        waiting = job.waiting
        mine = (
            waiting if waiting is not None and (waiting.limit, waiting.key) == gate.ident else None
        )
        limit = gate.limit
        if isinstance(limit, ConcurrencyLimit):
            capacity = await self.capacity(limit)
            since = mine.since if mine is not None and mine.kind is WaitKind.CONCURRENCY else None

            def place(current: Gate, now: datetime) -> Change:
                return take_place(
                    current,
                    job.id,
                    job.queue,
                    capacity=capacity,
                    now=now,
                    lease=self._lease,
                    parked_since=since,
                )

            change = await self._apply(gate, place, capacity=capacity)
            if change is None or change.taken:
                return None
            now = self._clock.now()
            checks = mine.checks + 1 if mine is not None else 1
            recheck = min(_FIRST_RECHECK * 2 ** min(checks - 1, 10), _LONGEST_RECHECK)
            reason = f"{change.held} of {capacity} running ({limit.describe()})"
            return Blocked(
                gate,
                _waiting(gate, WaitKind.CONCURRENCY, reason, since or now, now + recheck, checks),
            )
        rate = await self.rate(limit)
        held_turn = turn
        if held_turn is None and mine is not None and mine.kind is WaitKind.RATE:
            held_turn = mine.until

        def start(current: Gate, now: datetime) -> Change:
            return take_start(current, rate=rate, per=limit.per, now=now, turn=held_turn)

        change = await self._apply(gate, start, capacity=None)
        if change is None or change.taken:
            return None
        now = self._clock.now()
        given = change.turn or now
        since = mine.since if mine is not None else now
        checks = mine.checks + 1 if mine is not None else 1
        reason = f"{limit.describe()} used; its turn at {given.isoformat(timespec='milliseconds')}"
        return Blocked(gate, _waiting(gate, WaitKind.RATE, reason, since, given, checks))

    async def renew(self, job_id: str, gates: Sequence[JobGate]) -> None:
        """Keep ``job_id``'s places for another lease (the heartbeat, beside its record's)."""
        for gate in gates:

            def again(current: Gate, now: datetime) -> Change | None:
                return renew(current, job_id, now=now, lease=self._lease)

            try:
                change = await self._apply(gate, again, capacity=None)
            except QueuedJobsError as exc:
                log.warning(
                    "job %s: its place of limit %r was not renewed (%s)",
                    job_id,
                    gate.limit.name,
                    exc,
                )
                continue
            if change is None:
                log.warning(
                    "job %s: its place of limit %r (key %r) ran out and another job may hold "
                    "it now: the limit may be passed by one until this job ends",
                    job_id,
                    gate.limit.name,
                    gate.key,
                )

    async def leave(self, job_id: str, gates: Sequence[JobGate], *, parked: bool = False) -> None:
        """Give ``job_id``'s places back and wake the jobs parked for them (``parked``: a
        job that ended while parked leaves the gate's parked jobs too). A failure is
        logged: the place then runs out by itself, within a lease."""
        for gate in reversed(gates):
            capacity = await self._capacity_of(gate)

            def back(current: Gate, now: datetime) -> Change:
                return give_back(current, job_id, now=now, parked=parked)

            try:
                await self._apply(gate, back, capacity=capacity)
            except QueuedJobsError as exc:
                log.warning(
                    "job %s: could not give back its place of limit %r (%s); it runs out "
                    "within a lease",
                    job_id,
                    gate.limit.name,
                    exc,
                )

    async def _capacity_of(self, gate: JobGate) -> int | None:
        limit = gate.limit
        return await self.capacity(limit) if isinstance(limit, ConcurrencyLimit) else None

    async def wake_parked(self, gate: JobGate) -> int:
        """Hand the gate's free places to jobs parked there (places given back by no one:
        their holders died, or the capacity grew); how many were woken."""
        capacity = await self._capacity_of(gate)
        if capacity is None:
            return 0

        def look(current: Gate, now: datetime) -> Change | None:
            live = current.live_holders(now)
            if not current.has_waiters or len(live) >= capacity:
                return None
            return Change(current.model_copy(update={"holders": live, "updated_at": now}), False)

        change = await self._apply(gate, look, capacity=capacity)
        return 0 if change is None else len(change.woken)

    # --- one gate, changed under its version -----------------------------------------------

    async def apply(
        self, gate: JobGate, rule: Callable[[Gate, datetime], Change | None]
    ) -> Change | None:
        """Apply a rule of the caller's own to the gate (one that parks no job) and store
        what it decides, as the keeper's own rules are: what the owner share uses."""
        return await self._apply(gate, rule, capacity=None)

    def forget_gate(self, gate: JobGate) -> None:
        """Read the gate from the store next time (this host's copy may be behind)."""
        self._gates.pop(gate.ident, None)

    async def _apply(
        self,
        gate: JobGate,
        rule: Callable[[Gate, datetime], Change | None],
        *,
        capacity: int | None,
    ) -> Change | None:
        """Apply ``rule`` to the gate and store what it decides, waking parked jobs into
        the places it leaves free (``capacity``: the gate's, for a concurrency gate).

        The changes of one gate asked for while a write of it is in flight wait for it,
        then go together in the next write (each decided on the gate as the one before
        left it): many jobs of one gate in one process cost a write per batch, not each."""
        ident = gate.ident
        asked = _Asked(rule, capacity, asyncio.get_running_loop().create_future())
        self._asked.setdefault(ident, []).append(asked)
        async with self._lock(ident):
            while not asked.answer.done():
                batch = self._asked.pop(ident, [])
                if not batch:  # taken by a writer that failed it: the answer is set
                    break
                try:
                    rest, woken = await self._write(ident, batch)
                except Exception as exc:
                    for one in batch:
                        if not one.answer.done():
                            one.answer.set_exception(exc)
                    break
                except BaseException:  # cancelled: the others' asks go to the next writer
                    left = [one for one in batch if not one.answer.done() and one is not asked]
                    self._asked[ident] = [*left, *self._asked.get(ident, [])]
                    raise
                if rest:
                    self._asked[ident] = [*rest, *self._asked.get(ident, [])]
                for waiter in woken:
                    await self._wake(waiter.queue, waiter.job_id)
        return asked.answer.result()

    async def _write(
        self, ident: tuple[str, str], batch: list[_Asked]
    ) -> tuple[list[_Asked], list[Waiter]]:
        """Decide and store the changes ``batch`` asks for, in one write; the asks left
        for the next write (those after a job parked, whose row the store must hold before
        a change can wake it; removals past what one write takes), and the parked jobs
        woken."""
        current = self._gates.get(ident)
        for attempt in range(_TRIES):
            now = self._clock.now()
            if current is None:
                current = await self.store.load_gate(*ident) or Gate(
                    limit=ident[0], key=ident[1], updated_at=now
                )
            gate, add = current, None
            decided: list[Change | None] = []
            removes: list[str] = []
            for asked in batch:
                change = asked.rule(gate, now)
                if change is not None and not change.unchanged and asked.capacity is not None:
                    change = await self._with_woken(change, asked.capacity, now)
                if change is not None and not change.unchanged:
                    if len(removes) + len(change.remove_waiters) > MAX_WAITERS_REMOVED:
                        break  # for the next write
                    gate = change.gate
                    add = change.add_waiter or add
                    removes.extend(change.remove_waiters)
                decided.append(change)
                if add is not None:  # a later change must see its row to wake it: next write
                    break
            if gate is current:  # nothing to store
                self._remember(ident, current)
                return self._answer(batch, decided), []
            together = Change(gate, False, add_waiter=add, remove_waiters=removes)
            try:
                stored = await self._store(current, together)
            except ConcurrencyConflict:
                current = None
                self._gates.pop(ident, None)
                if attempt:
                    await asyncio.sleep(self._rng.uniform(0, 0.005 * 2 ** min(attempt, 6)))
                continue
            self._remember(ident, stored)
            woken = [w for change in decided if change is not None for w in change.woken]
            return self._answer(batch, decided), woken
        raise ConcurrencyConflict(
            f"the gate of limit {ident[0]!r} (key {ident[1]!r}) kept changing"
        )

    @staticmethod
    def _answer(batch: list[_Asked], decided: list[Change | None]) -> list[_Asked]:
        """Answer the asks that were decided (in order); the rest, to ask again."""
        for asked, change in zip(batch, decided, strict=False):
            asked.answer.set_result(change)
        return batch[len(decided) :]

    async def _with_woken(self, change: Change, capacity: int, now: datetime) -> Change:
        gate = change.gate
        room = capacity - len(gate.live_holders(now))
        if not gate.has_waiters or room <= 0:
            return change
        asked = min(room, _MOST_WOKEN) + 1 + len(change.remove_waiters)
        waiters = await self.store.first_waiters(gate.limit, gate.key, count=asked)
        return wake(
            change,
            waiters,
            capacity=capacity,
            now=now,
            grace=self._grace,
            looked_for=asked,
            most=_MOST_WOKEN,
        )

    async def _store(self, current: Gate, change: Change) -> Gate:
        return await self.store.save_gate(
            change.gate.model_copy(update={"version": current.version}),
            add_waiter=change.add_waiter,
            remove_waiters=change.remove_waiters,
        )

    async def purge_idle(self, gate: Gate, *, idle_for: timedelta) -> bool:
        """Remove ``gate`` (as read) if nothing in it counts and it has not changed for
        ``idle_for``; whether it did."""
        now = self._clock.now()
        if gate.updated_at > now - idle_for:
            return False
        starts = tuple(s for s in gate.starts if s > now - idle_for)
        if not gate.model_copy(update={"starts": starts}).is_idle(now):
            return False
        ident = (gate.limit, gate.key)
        async with self._lock(ident):
            removed = await self.store.delete_gate(gate)
            self._gates.pop(ident, None)
        return removed

    async def _wake(self, queue: str, job_id: str) -> None:
        for attempt in range(_WAKE_SENDS):
            try:
                await self._send_wake(queue, job_id)
                return
            except QueuedJobsError as exc:
                if attempt + 1 == _WAKE_SENDS:
                    log.warning(
                        "job %s: a place of its limit is kept for it, but its message could "
                        "not be sent (%s); the place goes to another job after %s and the "
                        "sweep sends the job again later",
                        job_id,
                        exc,
                        self._grace,
                    )

    def _remember(self, ident: tuple[str, str], gate: Gate) -> None:
        self._gates[ident] = gate
        self._gates.move_to_end(ident)
        while len(self._gates) > _CACHED_GATES:
            self._gates.popitem(last=False)

    def _lock(self, ident: tuple[str, str]) -> asyncio.Lock:
        lock = self._locks.get(ident)
        if lock is None:
            if len(self._locks) > _CACHED_GATES:
                for stale in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[stale]
            lock = self._locks[ident] = asyncio.Lock()
        return lock


def _waiting(
    gate: JobGate, kind: WaitKind, reason: str, since: datetime, until: datetime, checks: int
) -> JobWaiting:
    return JobWaiting(
        limit=gate.limit.name,
        key=gate.key,
        kind=kind,
        reason=reason[:1024],
        since=since,
        until=until,
        checks=checks,
    )
