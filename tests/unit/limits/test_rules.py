"""The rules of a gate as pure changes: places, wake-ups and the rate's window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from queued_jobs.limits.model import Gate, Waiter
from queued_jobs.limits.rules import give_back, take_place, take_start, wake
from queued_jobs.models import new_job_id

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def ids(n: int) -> list[str]:
    return [new_job_id("ada", now=T0 + timedelta(milliseconds=i)) for i in range(n)]


def test_places_are_taken_up_to_the_capacity_then_jobs_are_parked() -> None:
    a, b, c = ids(3)
    gate = Gate(limit="exports", updated_at=T0)
    for job_id in (a, b):
        change = take_place(
            gate, job_id, "jobs", capacity=2, now=T0, lease=LEASE, parked_since=None
        )
        assert change.taken
        gate = change.gate
    parked = take_place(gate, c, "jobs", capacity=2, now=T0, lease=LEASE, parked_since=None)
    assert not parked.taken
    assert parked.gate.has_waiters
    assert parked.add_waiter is not None
    assert parked.add_waiter.job_id == c
    assert set(parked.gate.holders) == {a, b}


def test_a_place_that_ran_out_is_free_again() -> None:
    a, b = ids(2)
    gate = take_place(
        Gate(limit="x", updated_at=T0),
        a,
        "jobs",
        capacity=1,
        now=T0,
        lease=LEASE,
        parked_since=None,
    ).gate
    later = T0 + LEASE
    change = take_place(gate, b, "jobs", capacity=1, now=later, lease=LEASE, parked_since=None)
    assert change.taken
    assert set(change.gate.holders) == {b}


def test_a_place_given_back_is_kept_for_the_oldest_parked_job() -> None:
    a, b, c = ids(3)
    gate = Gate(limit="x", updated_at=T0, has_waiters=True).model_copy(
        update={
            "holders": take_place(
                Gate(limit="x", updated_at=T0),
                a,
                "jobs",
                capacity=1,
                now=T0,
                lease=LEASE,
                parked_since=None,
            ).gate.holders
        }
    )
    waiters = [Waiter(job_id=j, queue="jobs", since=T0) for j in (b, c)]
    back = give_back(gate, a, now=T0)
    woken = wake(back, waiters, capacity=1, now=T0, grace=timedelta(seconds=5), looked_for=2)
    assert [w.job_id for w in woken.woken] == [b]
    assert woken.gate.holders[b].started is False
    assert woken.gate.has_waiters
    assert set(woken.remove_waiters) == {b}
    # a newcomer finds the place kept
    newcomer = take_place(woken.gate, c, "jobs", capacity=1, now=T0, lease=LEASE, parked_since=T0)
    assert not newcomer.taken


def test_waking_the_last_parked_jobs_leaves_the_gate_without_waiters() -> None:
    a, b = ids(2)
    gate = Gate(limit="x", updated_at=T0, has_waiters=True)
    change = give_back(gate, a, now=T0)
    woken = wake(
        change,
        [Waiter(job_id=b, queue="jobs", since=T0)],
        capacity=3,
        now=T0,
        grace=timedelta(seconds=5),
        looked_for=4,
    )
    assert not woken.gate.has_waiters
    assert [w.job_id for w in woken.woken] == [b]


@settings(max_examples=200, deadline=None)
@given(
    rate=st.integers(1, 5),
    per_ms=st.integers(100, 2000),
    arrivals=st.lists(st.integers(0, 5000), min_size=1, max_size=60),
)
def test_no_window_holds_more_starts_than_the_rate(
    rate: int, per_ms: int, arrivals: list[int]
) -> None:
    """Jobs arrive at random moments (each coming back at its turn, or later): however they
    come, no window of the limit's length holds more than ``rate`` starts."""
    per = timedelta(milliseconds=per_ms)
    gate = Gate(limit="calls", updated_at=T0)
    pending = sorted((T0 + timedelta(milliseconds=ms), None) for ms in arrivals)
    started: list[datetime] = []
    steps = 0
    while pending and steps < 2000:
        steps += 1
        now, turn = pending.pop(0)
        change = take_start(gate, rate=rate, per=per, now=now, turn=turn)
        if not change.unchanged:
            gate = change.gate
        if change.taken:
            started.append(now)
        else:
            assert change.turn is not None
            assert change.turn >= now - timedelta(seconds=1)
            pending.append((max(change.turn, now), change.turn))
            pending.sort(key=lambda item: item[0])
    assert not pending  # every job started in the end
    for i, moment in enumerate(started):
        in_window = [s for s in started[i:] if s < moment + per]
        assert len(in_window) <= rate, (moment, in_window)
