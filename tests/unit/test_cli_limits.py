"""``queued-jobs limits`` against a SQLite app with limits (``tests.cli_app:limited``): the
limits listed with their values, holders and parked jobs; a limit shown with its gates; a
capacity or rate set and reset; bad and hostile input refused in a sentence; a parked
job's status says what it waits on."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from queued_jobs.limits import Gate, Holding, Waiter
from queued_jobs.models import JobStatus, QueuedJob, new_job_id
from queued_jobs.models.waiting import JobWaiting, WaitKind
from tests.cli_app import limited
from tests.support.cli import Invoke

HOSTILE = "\x1b[2J\x1b[31mred\x1b[0m \u202eevil\u202c [bold]markup[/bold]"
LIMITED = ("--app", "tests.cli_app:limited")


def _plant(key: str = "acme") -> tuple[str, QueuedJob]:
    """A gate of ``exports`` with a holder and a parked job (whose record says so)."""

    async def plant() -> tuple[str, QueuedJob]:
        async with limited.client() as client:
            await client.create_storage()
            now = datetime.now(UTC)
            holder = new_job_id("ada")
            parked = await client.queue_job("export", {"customer": key}, owner="ada")
            waiting = JobWaiting(
                limit="exports",
                key=key,
                kind=WaitKind.CONCURRENCY,
                reason="2 of 2 running (at most 2 at once)",
                since=now,
                until=now + timedelta(minutes=1),
            )
            stored = await client.repository.update(
                parked.model_copy(update={"waiting": waiting, "status": JobStatus.QUEUED})
            )
            gate = Gate(
                limit="exports",
                key=key,
                holders={holder: Holding(since=now, until=now + timedelta(minutes=1))},
                has_waiters=True,
                updated_at=now,
            )
            await client.repository.limits.save_gate(
                gate, add_waiter=Waiter(job_id=parked.id, queue="jobs", since=now)
            )
            return holder, stored

    return asyncio.run(plant())


def test_the_limits_are_listed_with_their_values_holders_and_parked_jobs(
    invoke: Invoke, database: Path
) -> None:
    _plant()
    listed = invoke(*LIMITED, "limits", "list")
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line.split() for line in listed.output.splitlines()[2:] if line}
    assert rows["exports"][:7] == ["exports", "concurrency", "2", "-", "2", "1", "/"]
    assert "at most 2 at once" in listed.output
    assert "at most 10 starts per 1s" in listed.output
    records = json.loads(invoke(*LIMITED, "limits", "list", "--json").output)
    assert [(r["name"], r["effective"], r["holding"], r["parked"]) for r in records] == [
        ("calls", 10, 0, 0),
        ("exports", 2, 1, 1),
    ]


def test_a_limit_is_shown_with_its_gates_and_holders(invoke: Invoke, database: Path) -> None:
    holder, _ = _plant()
    shown = invoke(*LIMITED, "limits", "show", "exports")
    assert shown.exit_code == 0, shown.output
    assert "by_request('customer')" in shown.output
    assert "acme" in shown.output
    assert holder in shown.output
    record = json.loads(invoke(*LIMITED, "limits", "show", "exports", "--json").output)
    [gate] = record["gates"]
    assert (gate["key"], gate["parked_text"], gate["holders"][0]["job_id"]) == ("acme", "1", holder)


def test_a_capacity_is_set_and_reset(invoke: Invoke, database: Path) -> None:
    asyncio.run(_create())
    done = invoke(*LIMITED, "limits", "set", "exports", "--capacity", "5", "--by", "olga")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "limit exports: capacity 5"
    record = json.loads(invoke(*LIMITED, "limits", "show", "exports", "--json").output)
    assert (record["override"], record["effective"], record["setting"]["updated_by"]) == (
        5,
        5,
        "olga",
    )
    paused = invoke(*LIMITED, "limits", "set", "calls", "--rate", "0")
    assert paused.output.strip() == "limit calls: rate 0 (paused)"
    assert "paused" in invoke(*LIMITED, "limits", "show", "calls").output
    assert invoke(*LIMITED, "limits", "reset", "exports").exit_code == 0
    record = json.loads(invoke(*LIMITED, "limits", "show", "exports", "--json").output)
    assert (record["setting"], record["effective"]) == (None, 2)


def test_bad_and_hostile_input_is_refused_in_a_sentence(invoke: Invoke, database: Path) -> None:
    asyncio.run(_create())
    for args, said in [
        (("set", "exports", "--capacity", "-1"), "-1 is not in the range 0<=x<=1000"),
        (("set", "exports", "--capacity", "x"), "'x' is not a valid integer"),
        (("set", "exports"), "give --capacity (a concurrency limit) or --rate"),
        (("set", "exports", "--rate", "3"), "'exports' is a concurrency limit"),
        (("show", "nothing"), "no limit named 'nothing' (the app's limits: calls, exports)"),
        (("reset", "nothing"), "no limit named 'nothing'"),
        (("show", HOSTILE), "no limit named"),
        (("set", "exports", "--capacity", "1", "--by", HOSTILE), "control characters"),
    ]:
        result = invoke(*LIMITED, "limits", *args)
        assert result.exit_code in (1, 2), (args, result.output)
        assert said in result.output, (args, result.output)
        assert "\x1b" not in result.output
        assert "\u202e" not in result.output


def test_an_app_without_limits_lists_none(invoke: Invoke, database: Path) -> None:
    asyncio.run(_create())
    assert invoke("limits", "list").output.strip() == "no limits: no job type of the app passes one"


def test_the_status_of_a_parked_job_says_what_it_waits_on(invoke: Invoke, database: Path) -> None:
    _, parked = _plant()
    shown = invoke(*LIMITED, "status", parked.id)
    assert shown.exit_code == 0, shown.output
    line = " ".join(shown.output.split())
    assert (
        "waiting waiting for limit exports (key acme): 2 of 2 running (at most 2 at once), since "
        in line
    )


async def _create() -> None:
    async with limited.client() as client:
        await client.create_storage()
