"""Property tests: the slots of generated cron and RRULE rules, in zones with and without
DST, over 2024-2030, are those of a brute-force walk (``reference``) that shares none of the
code under test. Windows are kept short (a couple of days of minutes, or a few months of a
sparse rule's candidate times) so the whole module runs in a few seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from queued_jobs.errors import RuleNeverFires
from queued_jobs.schedules import Rule, parse_rule, parse_zone
from tests.unit.schedules.reference import (
    Cron,
    CronField,
    Recurrence,
    walk_candidates,
    walk_minutes,
)

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
FIRST, LAST = datetime(2024, 1, 1, tzinfo=UTC), datetime(2030, 12, 1, tzinfo=UTC)

checks = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@cache
def transitions(name: str) -> tuple[datetime, ...]:
    """The instants in 2024-2030 at which the zone's offset changes, to the minute."""
    zone = ZoneInfo(name)
    found: list[datetime] = []
    step = timedelta(hours=6)
    instant = FIRST
    while instant < LAST:
        later = instant + step
        if instant.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            low, high = instant, later
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(second=0, microsecond=0))
        instant = later
    return tuple(found)


@st.composite
def windows(draw: st.DrawFn, shortest: timedelta, longest: timedelta) -> Window:
    """A zone and a stretch ``(start, end]`` of 2024-2030: most of the time one that holds a
    change of the zone's offset, where the DST rule matters."""
    name = draw(st.sampled_from(ZONES))
    length = draw(st.timedeltas(shortest, longest)).total_seconds() // 60 * 60
    span = timedelta(seconds=length)
    near = transitions(name)
    if near and draw(st.integers(0, 4)) > 0:
        change = draw(st.sampled_from(near))
        start = change - span * draw(st.floats(0, 1))
    else:
        start = draw(st.datetimes(FIRST.replace(tzinfo=None), LAST.replace(tzinfo=None)))
        start = start.replace(tzinfo=UTC)
    start = start.replace(microsecond=0, second=draw(st.sampled_from((0, 0, 30))))
    return Window(parse_zone(name), start, start + span)


@dataclass(frozen=True)
class Window:
    zone: ZoneInfo
    start: datetime
    end: datetime


#: Hours and minutes where clocks change (01:00-03:00, on the hour or half hour) come up
#: often; any other also can.
changing_hours = st.one_of(st.sampled_from((1, 2, 2, 3)), st.integers(0, 23))
changing_minutes = st.one_of(st.sampled_from((0, 15, 30, 45)), st.integers(0, 59))


# --- cron -------------------------------------------------------------------------------

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@st.composite
def cron_item(
    draw: st.DrawFn, low: int, high: int, names: tuple[str, ...], firsts: st.SearchStrategy[int]
) -> CronField:
    """A value, a range, or a stepped range of one field (no '*')."""

    def spell(value: int) -> str:
        if names and value - low < len(names) and draw(st.booleans()):
            return names[value - low]
        return str(value)

    form = draw(st.sampled_from(("value", "value", "range", "step")))
    first = draw(firsts)
    if form == "value":
        return CronField(spell(first), frozenset({first}))
    last = draw(st.integers(first + 1 if first < high else first, high))
    assume(last > first)
    if form == "range":
        return CronField(f"{spell(first)}-{spell(last)}", frozenset(range(first, last + 1)))
    step = draw(st.integers(1, max(1, last - first)))
    return CronField(f"{first}-{last}/{step}", frozenset(range(first, last + 1, step)))


@st.composite
def cron_field(
    draw: st.DrawFn,
    low: int,
    high: int,
    names: tuple[str, ...] = (),
    *,
    sparse: bool = False,
    firsts: st.SearchStrategy[int] | None = None,
) -> CronField:
    every = frozenset(range(low, high + 1))
    forms = ["item", "list"] if sparse else ["star", "star", "every", "item", "list"]
    form = draw(st.sampled_from(forms))
    if form == "star":
        return CronField("*", every)
    if form == "every":
        step = draw(st.integers(2, max(2, (high - low) // 2)))
        return CronField(f"*/{step}", frozenset(range(low, high + 1, step)))
    items = draw(
        st.lists(
            cron_item(low, high, names, st.integers(low, high) if firsts is None else firsts),
            min_size=1,
            max_size=1 if form == "item" else 3,
        )
    )
    return CronField(
        ",".join(item.text for item in items), frozenset().union(*(i.values for i in items))
    )


def fold_sunday(field: CronField) -> CronField:
    return CronField(field.text, frozenset(value % 7 for value in field.values))


@st.composite
def crons(draw: st.DrawFn, *, sparse: bool) -> Cron:
    return Cron(
        minute=draw(cron_field(0, 59, sparse=sparse, firsts=changing_minutes)),
        hour=draw(cron_field(0, 23, sparse=sparse, firsts=changing_hours)),
        day=draw(cron_field(1, 31)),
        month=draw(cron_field(1, 12, MONTH_NAMES)),
        weekday=fold_sunday(draw(cron_field(0, 7, DAY_NAMES))),
    )


def parsed_or_skipped(text: str) -> Rule:
    try:
        return parse_rule(text)
    except RuleNeverFires:
        assume(False)
        raise


def assert_next_after_agrees(
    rule: Rule, zone: ZoneInfo, start: datetime, slots: list[datetime]
) -> None:
    """next_after walks the same slots one by one (for the first few)."""
    instant = start
    for slot in slots[:5]:
        assert rule.next_after(instant, zone) == slot
        instant = slot


@checks
@given(windows(timedelta(hours=1), timedelta(days=2)), crons(sparse=False))
def test_dense_cron_slots_are_the_minutes_a_walk_finds(window: Window, cron: Cron) -> None:
    zone, start, end = window.zone, window.start, window.end
    rule = parsed_or_skipped(f"cron:{cron.text}")
    expected = walk_minutes(cron.matches, zone, start, end)
    assert rule.slots(start, end, zone, limit=10_000) == expected
    assert_next_after_agrees(rule, zone, start, expected)


@checks
@given(windows(timedelta(days=1), timedelta(days=90)), crons(sparse=True))
def test_sparse_cron_slots_are_the_candidates_a_walk_keeps(window: Window, cron: Cron) -> None:
    zone, start, end = window.zone, window.start, window.end
    assume(len(cron.minute.values) * len(cron.hour.values) <= 6)
    rule = parsed_or_skipped(f"cron:{cron.text}")
    low = start.replace(tzinfo=None) - timedelta(days=1)
    high = end.replace(tzinfo=None) + timedelta(days=1)
    candidates = [
        datetime(day.year, day.month, day.day, hour, minute)
        for day in (low.date() + timedelta(days=n) for n in range((high - low).days + 1))
        for hour in sorted(cron.hour.values)
        for minute in sorted(cron.minute.values)
    ]
    candidates = [wall for wall in candidates if cron.matches(wall)]
    expected = walk_candidates(candidates, zone, start, end)
    assert rule.slots(start, end, zone, limit=10_000) == expected
    assert_next_after_agrees(rule, zone, start, expected)


# --- RRULE ------------------------------------------------------------------------------

hours = st.lists(changing_hours, min_size=1, max_size=3, unique=True).map(sorted).map(tuple)
minutes = st.lists(changing_minutes, min_size=1, max_size=2, unique=True).map(sorted).map(tuple)
plain_days = (
    st.lists(st.integers(0, 6), min_size=1, max_size=5, unique=True)
    .map(sorted)
    .map(lambda days: tuple((day, None) for day in days))
)
maybe = st.booleans()


@st.composite
def dtstarts(draw: st.DrawFn) -> datetime:
    moment = draw(st.datetimes(datetime(2023, 6, 1), datetime(2030, 6, 1)))
    return moment.replace(second=0, microsecond=0)


@st.composite
def dense_recurrences(draw: st.DrawFn) -> Recurrence:
    freq = draw(st.sampled_from(("MINUTELY", "HOURLY")))
    dtstart = draw(dtstarts())
    if freq == "MINUTELY":
        interval = draw(st.sampled_from((1, 5, 7, 10, 15, 20, 30, 45, 60, 90, 13, 150)))
        return Recurrence(
            freq,
            dtstart,
            interval=interval,
            byhour=draw(hours) if draw(maybe) else (),
            byday=draw(plain_days) if draw(maybe) else (),
        )
    return Recurrence(
        freq,
        dtstart,
        interval=draw(st.integers(1, 12)),
        byminute=draw(minutes) if draw(maybe) else (),
        byday=draw(plain_days) if draw(maybe) else (),
    )


@st.composite
def sparse_recurrences(draw: st.DrawFn) -> Recurrence:
    freq = draw(st.sampled_from(("DAILY", "WEEKLY", "MONTHLY")))
    dtstart = draw(dtstarts())
    times = {
        "byhour": draw(hours) if draw(maybe) else (),
        "byminute": draw(minutes) if draw(maybe) else (),
    }
    if freq == "DAILY":
        return Recurrence(
            freq,
            dtstart,
            interval=draw(st.integers(1, 5)),
            byday=draw(plain_days) if draw(maybe) else (),
            bymonth=tuple(sorted(draw(st.sets(st.integers(1, 12), min_size=1, max_size=6))))
            if draw(maybe)
            else (),
            **times,
        )
    if freq == "WEEKLY":
        return Recurrence(
            freq, dtstart, interval=draw(st.integers(1, 3)), byday=draw(plain_days), **times
        )
    form = draw(st.sampled_from(("monthday", "nth", "setpos")))
    interval = draw(st.integers(1, 3))
    if form == "monthday":
        days = draw(
            st.sets(st.sampled_from((1, 2, 10, 15, 28, 29, 30, 31, -1, -2)), min_size=1, max_size=3)
        )
        return Recurrence(freq, dtstart, interval=interval, bymonthday=tuple(sorted(days)), **times)
    if form == "nth":
        nth = draw(
            st.sets(
                st.tuples(st.integers(0, 6), st.sampled_from((1, 2, 3, -1, -2))),
                min_size=1,
                max_size=2,
            )
        )
        return Recurrence(freq, dtstart, interval=interval, byday=tuple(sorted(nth)), **times)
    positions = draw(st.sets(st.sampled_from((1, 2, -1, -2)), min_size=1, max_size=2))
    return Recurrence(
        freq,
        dtstart,
        interval=interval,
        byday=draw(plain_days),
        bysetpos=tuple(sorted(positions)),
        **times,
    )


@checks
@given(windows(timedelta(hours=1), timedelta(days=2)), dense_recurrences())
def test_minutely_and_hourly_rrule_slots_are_the_minutes_a_walk_finds(
    window: Window, recurrence: Recurrence
) -> None:
    zone, start, end = window.zone, window.start, window.end
    rule = parsed_or_skipped(recurrence.text)
    expected = walk_minutes(recurrence.matches, zone, start, end)
    assert rule.slots(start, end, zone, limit=10_000) == expected
    assert_next_after_agrees(rule, zone, start, expected)


@checks
@given(windows(timedelta(days=1), timedelta(days=120)), sparse_recurrences())
def test_daily_weekly_and_monthly_rrule_slots_are_the_candidates_a_walk_keeps(
    window: Window, recurrence: Recurrence
) -> None:
    zone, start, end = window.zone, window.start, window.end
    rule = parsed_or_skipped(recurrence.text)
    candidates = recurrence.candidates(
        start.replace(tzinfo=None) - timedelta(days=1), end.replace(tzinfo=None) + timedelta(days=1)
    )
    expected = walk_candidates(candidates, zone, start, end)
    assert rule.slots(start, end, zone, limit=10_000) == expected
    assert_next_after_agrees(rule, zone, start, expected)


# --- a search that starts anywhere finds what dateutil finds from DTSTART --------------------


@checks
@given(
    st.one_of(dense_recurrences(), sparse_recurrences()),
    st.integers(0, 3 * 365 * 1_440),
)
def test_a_search_from_any_instant_finds_what_iterating_from_dtstart_finds(
    recurrence: Recurrence, minutes_later: int
) -> None:
    """In UTC wall times are instants, so the rule's slots are dateutil's own, iterated
    from DTSTART the slow way; the rule starts its search at the instant's period instead,
    in a calendar moved by centuries, and must agree."""
    rule = parsed_or_skipped(recurrence.text)
    after = recurrence.dtstart + timedelta(minutes=minutes_later)
    direct = rrulestr(recurrence.text.removeprefix("rrule:"))
    expected = [slot.replace(tzinfo=UTC) for slot in direct.xafter(after, count=5)]
    horizon = after.replace(tzinfo=UTC) + timedelta(days=365 * 50)
    found = rule.slots(after.replace(tzinfo=UTC), horizon, parse_zone("UTC"), limit=5)
    assert found == [slot for slot in expected if slot <= horizon]


# --- every: ---------------------------------------------------------------------------------


@checks
@given(
    windows(timedelta(minutes=1), timedelta(days=3)),
    st.integers(1, 366 * 1_440),
    st.datetimes(datetime(1990, 1, 1), datetime(2035, 1, 1)).map(
        lambda moment: moment.replace(second=0, microsecond=0)
    ),
)
def test_an_interval_slot_is_a_whole_number_of_periods_from_its_anchor(
    window: Window, minutes: int, anchor: datetime
) -> None:
    """The anchor, a wall time, becomes an instant by the DST rule (found here by the walk);
    the slots are that instant plus whole periods, the first one within a period of the
    start."""
    zone, start = window.zone, window.start
    period = timedelta(minutes=minutes)
    text = f"every:PT{minutes}M@{anchor:%Y-%m-%dT%H:%M}"
    rule = parse_rule(text)
    (anchored,) = walk_candidates(
        [anchor],
        zone,
        anchor.replace(tzinfo=UTC) - timedelta(days=2),
        anchor.replace(tzinfo=UTC) + timedelta(days=2),
    )
    slot = rule.next_after(start, zone)
    assert slot is not None
    assert start < slot <= start + period
    assert (slot - anchored) % period == timedelta(0)
    assert rule.slots(start, start + 3 * period, zone) == [slot, slot + period, slot + 2 * period]
