"""Operators' commands against a SQLite app (``tests/cli_app.py``): queue depths, purges by
age and status, and what ``status`` and ``list`` show of times and progress."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import QueuedJob
from queued_jobs.queues.sqlite import SqliteQueueBroker
from tests import cli_app
from tests.support.cli import Invoke

ROOT = Path(__file__).resolve().parents[2]


def send(database: Path, queue: str, count: int, *, side: str = "") -> None:
    """Put ``count`` messages on ``queue`` (or on its ``poison``/``dead`` side queue)."""

    async def run() -> None:
        broker = SqliteQueueBroker(database)
        try:
            band = broker.queue(queue)
            await band.create()
            target = {"": band, "poison": band.poison_queue(), "dead": band.dead_letter_queue()}
            for number in range(count):
                await target[side].send(f"body {number}")
        finally:
            await broker.close()

    asyncio.run(run())


# --- queues ---------------------------------------------------------------------------------


def test_queues_shows_each_bands_depth_with_its_poison_and_dead_letter_depths(
    invoke: Invoke, database: Path
) -> None:
    assert invoke("create-storage").exit_code == 0
    send(database, "jobs-high", 3)
    send(database, "jobs", 2, side="poison")
    send(database, "jobs-low", 4, side="dead")
    result = invoke("queues", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"band": "high", "queue": "jobs-high", "messages": 3, "poison": 0, "dead_letters": 0},
        {"band": "normal", "queue": "jobs", "messages": 0, "poison": 2, "dead_letters": 0},
        {"band": "low", "queue": "jobs-low", "messages": 0, "poison": 0, "dead_letters": 4},
    ]
    table = invoke("queues")
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.stdout.splitlines() if line.strip()]
    assert ["high", "jobs-high", "3", "0", "0"] in rows
    assert ["low", "jobs-low", "0", "0", "4"] in rows


def test_queues_shows_the_overflow_queue_of_an_app_with_an_owner_share(
    invoke: Invoke, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUED_JOBS_APP", "tests.cli_app:shared")
    assert invoke("create-storage").exit_code == 0
    send(database, "jobs-over", 5)

    result = invoke("queues", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[-1] == {
        "band": "overflow",
        "queue": "jobs-over",
        "messages": 5,
        "poison": 0,
        "dead_letters": 0,
    }


# --- purge ----------------------------------------------------------------------------------


def finished(job_type: str, request: Any, *, owner: str = "ada") -> QueuedJob:
    """A job run to its end by an inline client of the test app."""

    async def run() -> QueuedJob:
        async with cli_app.app.client(inline=True) as client:
            return await client.queue_job(job_type, request, owner=owner)

    return asyncio.run(run())


def exists(invoke: Invoke, job_id: str) -> bool:
    return invoke("status", job_id, "--json").exit_code == 0


def test_purge_with_a_status_deletes_only_jobs_that_ended_so(invoke: Invoke) -> None:
    succeeded = finished("greet", {"name": "Ada"})
    failed = finished("explode", {"name": "Zed"})

    result = invoke("purge", "--older-than", "0s", "--status", "failed,cancelled", "--yes")

    assert result.output == "purged 1 job\n"
    assert not exists(invoke, failed.id)
    assert exists(invoke, succeeded.id)


def test_purge_asks_naming_the_statuses_it_deletes(invoke: Invoke) -> None:
    failed = finished("explode", {"name": "Zed"})
    declined = invoke("purge", "--older-than", "0", "--status", "failed", input="n\n")
    assert declined.exit_code == 1
    assert "Delete every failed job that completed before" in declined.output
    assert exists(invoke, failed.id)


@pytest.mark.parametrize("age", ["6h", "90m", "2d", "1h30m", "1w", "0.5"])
def test_purge_takes_durations_and_keeps_jobs_that_completed_more_recently(
    invoke: Invoke, age: str
) -> None:
    job = finished("greet", {"name": "Ada"})
    result = invoke("purge", "--older-than", age, "--yes")
    assert result.output == "purged 0 jobs\n"
    assert exists(invoke, job.id)


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--older-than", "6x"], "'6x' is not a duration"),
        (["--older-than", "h"], "'h' is not a duration"),
        (["--older-than", ""], "'' is not a duration"),
        (["--older-than", "9" * 10_000], "is not a duration"),
        (["--older-than", "\x1b[2J1d"], "'\\x1b[2J1d' is not a duration"),
        (["--older-than", "999999d"], "is longer than 36,500 days"),
        (["--older-than", "1d", "--status", "queued"], "'queued' is not one of: succeeded"),
        (["--older-than", "1d", "--status", "failed,bogus"], "'bogus' is not one of"),
    ],
)
def test_purge_refuses_a_bad_duration_or_status_in_a_sentence_and_deletes_nothing(
    invoke: Invoke, arguments: list[str], said: str
) -> None:
    job = finished("explode", {"name": "Zed"})
    result = invoke("purge", *arguments, "--yes")
    assert result.exit_code == 2
    assert said in result.output
    assert "\x1b" not in result.output
    assert len(result.output) < 1000
    assert exists(invoke, job.id)


# --- log levels -----------------------------------------------------------------------------


def _stderr_of(*arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "queued_jobs", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1, done.stderr  # the store is unreachable
    return done.stderr


def test_one_v_logs_queued_jobs_at_debug_but_not_the_azure_sdks_requests() -> None:
    log = _stderr_of("-v", "--app", "tests.cli_app:unreachable", "list")
    assert "Check that the job store is running" in log
    assert " azure." not in log
    verbose = _stderr_of("-vv", "--app", "tests.cli_app:unreachable", "list")
    assert " INFO azure.core.pipeline.policies.http_logging_policy: Request URL" in verbose


# --- what status and list show ----------------------------------------------------------


def test_list_shows_each_jobs_progress(invoke: Invoke) -> None:
    job = finished("greet", {"name": "Ada"})
    result = invoke("list", "--owner", "ada")
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.stdout.splitlines() if job.id in line]
    assert "40% thinking [hard]" in row


def test_status_shows_run_time_and_wall_time_apart(invoke: Invoke) -> None:
    job = finished("greet", {"name": "Ada"})
    result = invoke("status", job.id)
    assert result.exit_code == 0, result.output
    assert "run time    " in result.stdout
    assert " in 1 attempt\n" in result.stdout
    assert "wall time   " in result.stdout
