"""Creating, reading and steering schedules: :class:`ScheduleClient`.

A schedule client works over a :class:`~queued_jobs.client.JobClient`: its repository's
:attr:`~queued_jobs.repositories.base.JobRepository.schedules` store, its registry (a
schedule's job type must be registered, its request must validate) and its clock. It
keeps each schedule's ``next_slot`` right when a schedule is made, its rule or time zone
changes, or it is resumed; firing the slots that come due is the firing loop's work.

Every verb refuses bad input with an error of :mod:`queued_jobs.errors` before anything
is written: ``UnknownJobType``, ``InvalidInput`` (a request that does not validate, an
option out of range), ``InvalidRule`` and its ``RuleNeverFires``, ``UnknownTimeZone``;
``ScheduleNotFound`` for an id no schedule has, ``DuplicateSchedule`` for an owner's name
taken twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import JsonValue, ValidationError

from .._building import JobTarget
from ..client import JobClient
from ..errors import (
    ConcurrencyConflict,
    CorruptScheduleRecord,
    InvalidInput,
    RuleNeverFires,
    ScheduleNotFound,
)
from ..models import Priority, QueuedJob
from ..repositories._records import problems
from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from .jobs import schedule_job_spec
from .model import CatchUp, Overlap, Schedule, SlotMarker, is_schedule_id
from .rules import Rule, parse_rule, parse_zone, preview
from .store import ScheduleStore

__all__ = ["CHANGEABLE", "ScheduleClient", "SlotPreview"]

#: The fields :meth:`ScheduleClient.update_schedule` changes. A schedule's owner never
#: changes; ``paused`` changes through :meth:`~ScheduleClient.pause` and
#: :meth:`~ScheduleClient.resume`; its slots are the rule's and the firing loop's.
CHANGEABLE: Final = frozenset(
    {
        "name",
        "job_type",
        "request",
        "rule",
        "time_zone",
        "catch_up",
        "catch_up_limit",
        "overlap",
        "priority",
        "max_attempts",
        "max_run_time",
        "tags",
    }
)
#: Reads and writes one change tries before giving up with ``ConcurrencyConflict``.
_TRIES: Final = 5


@dataclass(frozen=True, slots=True)
class SlotPreview:
    """One slot to come: its instant in UTC and the same instant in the schedule's zone."""

    utc: datetime
    local: datetime
    time_zone: str


class ScheduleClient:
    """Creates, reads, changes, pauses, resumes, triggers and deletes schedules.

    ``ScheduleClient(job_client)`` uses that client's store, registry and clock, and is
    closed with it (it opens nothing of its own)::

        async with app.client() as client:
            schedules = ScheduleClient(client)
            nightly = await schedules.create_schedule(
                "reports.build", {"kind": "daily"}, owner="ops", name="nightly report",
                rule="cron:0 2 * * *", time_zone="Europe/Paris",
            )
    """

    def __init__(self, client: JobClient) -> None:
        self.client = client

    @property
    def store(self) -> ScheduleStore:
        return self.client.repository.schedules

    def _now(self) -> datetime:
        return self.client.clock.now()

    # --- making ------------------------------------------------------------------------

    async def create_schedule(
        self,
        job: JobTarget,
        request: Any = None,
        *,
        owner: str,
        name: str,
        rule: str | Rule,
        time_zone: str = "UTC",
        catch_up: CatchUp = CatchUp.ONCE,
        catch_up_limit: int | None = None,
        overlap: Overlap = Overlap.ALLOW,
        priority: Priority = Priority.NORMAL,
        max_attempts: int | None = None,
        max_run_time: timedelta | None = None,
        tags: tuple[str, ...] | list[str] = (),
        paused: bool = False,
    ) -> Schedule:
        """Store a new schedule of ``owner``'s that starts a job of ``job`` (a registered
        job type's name, runner class or function) with ``request`` at each slot of
        ``rule`` in ``time_zone``; returns it stored, its ``next_slot`` the rule's first
        slot after now.

        The request is validated against the job type's request type now and stored in
        its JSON form. ``max_attempts`` left out is the job type's own, or 3. Raises
        ``UnknownJobType``, ``InvalidInput`` (a request that does not validate, an option
        out of range, a name of more than 200 characters), ``InvalidRule``,
        ``UnknownTimeZone``, ``RuleNeverFires`` for a rule with no slot to come, and
        ``DuplicateSchedule`` if ``owner`` has a schedule of that name.
        """
        job_type = self.client.registry.name_of(job)
        stored_request = self._validated(job_type, request)
        read, zone = _rule_and_zone(rule, time_zone)
        now = self._now()
        options: dict[str, Any] = {
            "time_zone": time_zone,
            "catch_up": catch_up,
            "overlap": overlap,
            "priority": priority,
            "max_run_time": max_run_time,
            "tags": tuple(tags),
            "paused": paused,
            "next_slot": _next_slot(read, zone, now, time_zone),
        }
        if catch_up_limit is not None:
            options["catch_up_limit"] = catch_up_limit
        attempts = (
            self.client.registry.get(job_type).max_attempts
            if max_attempts is None
            else max_attempts
        )
        if attempts is not None:
            options["max_attempts"] = attempts
        schedule = Schedule.new(
            owner=owner,
            name=name,
            job_type=job_type,
            rule=read.text,
            request=stored_request,
            now=now,
            **options,
        )
        return await self.store.insert_schedule(schedule)

    def _validated(self, job_type: str, request: Any) -> JsonValue:
        definition = self.client.registry.get(job_type)
        try:
            return definition.validate_request(request)
        except ValidationError as exc:
            found = problems(exc).replace(": Value error, ", ": ")
            raise InvalidInput(f"invalid request for job type {job_type!r}: {found}") from None

    # --- reading -----------------------------------------------------------------------

    async def get_schedule(self, schedule_id: str) -> Schedule:
        """The stored schedule; ``ScheduleNotFound`` (also for what is no schedule id)."""
        _check_schedule_id(schedule_id)
        return await self.store.get_schedule(schedule_id)

    async def list_schedules(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Schedule]:
        """One page of schedules, newest first: ``owner``'s, or every owner's when
        ``owner`` is ``None``. Pass the page's ``continuation`` back for the next
        (``None``: there is none); ``page.skipped`` names rows that could not be read.
        ``InvalidInput`` for a bad owner, a ``limit`` outside 1 to 1,000 or a token this
        listing did not give."""
        return await self.store.list_schedules(owner=owner, limit=limit, continuation=continuation)

    async def list_slots(
        self, schedule_id: str, *, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[SlotMarker]:
        """The slots the schedule fired, newest first, at most ``limit`` (1 to 1,000): each
        with its job's id, when and by which host it fired."""
        await self.get_schedule(schedule_id)
        return await self.store.list_slot_markers(schedule_id, limit=limit)

    async def preview(
        self,
        target: str | Rule | Schedule,
        count: int = 10,
        *,
        time_zone: str | None = None,
        after: datetime | None = None,
    ) -> list[SlotPreview]:
        """The next ``count`` slots (1 to 1,000) after ``after`` (default: now, or from a
        stored schedule's next slot if that is later: the slots still to fire) of a
        stored schedule (its id, or the record) in its zone, or of a rule not stored (its
        text, with a ``kind:``, or a :class:`Rule`) in ``time_zone`` (default ``UTC``).
        Fewer when the rule ends sooner. ``time_zone`` with a schedule previews it in
        another zone (its rule read there), as a change of zone would run it."""
        if isinstance(target, str) and ":" not in target:
            target = await self.get_schedule(target)
        if isinstance(target, Schedule):
            rule_text: str | Rule = target.rule
            zone_name = time_zone or target.time_zone
        else:
            rule_text, zone_name = target, time_zone or "UTC"
        read, zone = _rule_and_zone(rule_text, zone_name)
        start = self._now() if after is None else after
        if isinstance(target, Schedule) and after is None and target.next_slot is not None:
            # from its next slot: one fired early (its job held until its time) is past
            start = max(start, target.next_slot - timedelta(microseconds=1))
        slots = preview(read, zone, start, count)
        return [
            SlotPreview(utc=slot.astimezone(UTC), local=slot, time_zone=zone_name) for slot in slots
        ]

    # --- changing ----------------------------------------------------------------------

    async def update_schedule(self, schedule_id: str, /, **changes: Any) -> Schedule:
        """Change the fields named (of :data:`CHANGEABLE`); returns the schedule stored.

        A new rule or time zone moves ``next_slot`` to the rule's first slot after now
        (``RuleNeverFires`` if it has none); a new job type or request is validated as
        :meth:`create_schedule` validates them. Written only if the schedule is unchanged
        since it was read: when another writer (the firing loop) came first, it is read
        again and the change made anew, a few times, then ``ConcurrencyConflict``.
        """
        unknown = sorted(set(changes) - CHANGEABLE)
        if unknown:
            raise InvalidInput(
                f"cannot change {', '.join(unknown)} of a schedule; the fields that change are "
                f"{', '.join(sorted(CHANGEABLE))} (pause and resume change paused)"
            )
        if "rule" in changes:
            changes["rule"] = _rule_and_zone(changes["rule"], "UTC")[0].text
        if "tags" in changes:
            changes["tags"] = tuple(changes["tags"])

        def change(schedule: Schedule, now: datetime) -> dict[str, Any]:
            made = dict(changes)
            if "job_type" in made:
                made["job_type"] = self.client.registry.name_of(made["job_type"])
            if "job_type" in made or "request" in made:
                job_type = made.get("job_type", schedule.job_type)
                made["request"] = self._validated(job_type, made.get("request", schedule.request))
            if "rule" in made or "time_zone" in made:
                zone_name = made.get("time_zone", schedule.time_zone)
                read, zone = _rule_and_zone(made.get("rule", schedule.rule), zone_name)
                made["next_slot"] = _next_slot(read, zone, now, zone_name)
            return made

        return await self._change(schedule_id, change)

    async def pause(self, schedule_id: str) -> Schedule:
        """Pause the schedule: it fires nothing until resumed (a paused one is returned as
        it is)."""
        return await self._change(
            schedule_id, lambda schedule, _: {} if schedule.paused else {"paused": True}
        )

    async def resume(self, schedule_id: str) -> Schedule:
        """Resume a paused schedule from now: its ``next_slot`` is the rule's first slot
        after now, so the slots that passed while it was paused are not caught up (its
        ``catch_up`` is for slots missed while nothing fired, not for a pause). A schedule
        not paused is returned as it is. ``RuleNeverFires`` if its rule has ended."""

        def change(schedule: Schedule, now: datetime) -> dict[str, Any]:
            if not schedule.paused:
                return {}
            read, zone = _rule_and_zone(schedule.rule, schedule.time_zone)
            return {"paused": False, "next_slot": _next_slot(read, zone, now, schedule.time_zone)}

        return await self._change(schedule_id, change)

    async def _change(
        self,
        schedule_id: str,
        change: Callable[[Schedule, datetime], Mapping[str, Any]],
    ) -> Schedule:
        """Read the schedule, apply ``change`` (its fields, or nothing to write) and write
        it guarded by the version read; again from a new read on a conflict."""
        for _ in range(_TRIES):
            schedule = await self.get_schedule(schedule_id)
            now = self._now()
            fields = change(schedule, now)
            if not fields:
                return schedule
            try:
                return await self.store.update_schedule(schedule.with_changes(now=now, **fields))
            except ConcurrencyConflict:
                continue
        raise ConcurrencyConflict(schedule_id, kind="schedule")

    async def trigger_now(self, schedule_id: str) -> QueuedJob:
        """Start one job of the schedule now, paused or not, as its slots start theirs (its
        options, ``correlation_id="schedule:<id>"``, no slot in its custom data); returns
        the job. The schedule's slots are left as they are."""
        schedule = await self.get_schedule(schedule_id)
        [job] = await self.client.queue_jobs([schedule_job_spec(schedule)])
        return job

    async def delete_schedule(self, schedule_id: str) -> None:
        """Delete the schedule and its fired slots' markers (the jobs they started stay).

        ``ScheduleNotFound`` if no such schedule is stored; any markers of it left by a
        delete that stopped midway are removed all the same. A stored record that cannot
        be read is deleted too."""
        _check_schedule_id(schedule_id)
        try:
            await self.store.get_schedule(schedule_id)
        except ScheduleNotFound:
            await self.store.delete_schedule(schedule_id)
            raise
        except CorruptScheduleRecord:  # a record that cannot be read: deleted all the same
            pass
        await self.store.delete_schedule(schedule_id)


def _check_schedule_id(schedule_id: str) -> None:
    """``ScheduleNotFound`` at once for what is not a schedule id: no store is asked."""
    if not is_schedule_id(schedule_id):
        raise ScheduleNotFound(schedule_id if isinstance(schedule_id, str) else repr(schedule_id))


def _rule_and_zone(rule: str | Rule, time_zone: str) -> tuple[Rule, ZoneInfo]:
    read = rule if isinstance(rule, Rule) else parse_rule(rule)
    return read, parse_zone(time_zone)


def _next_slot(rule: Rule, zone: ZoneInfo, now: datetime, zone_name: str) -> datetime:
    """The rule's first slot after ``now``, or ``RuleNeverFires``: a schedule made or
    resumed must fire at least once more."""
    slot = rule.next_after(now, zone)
    if slot is None:
        raise RuleNeverFires(
            f"the rule {rule.text!r:.200} has no slot after {now:%Y-%m-%d %H:%M} UTC in "
            f"{zone_name} (it has ended, or its next slot is more than 50 years away): "
            "give a rule that fires again"
        )
    return slot
