"""Operators' commands against a SQLite app (``tests/cli_app.py``): queue depths, purges by
age and status, and what ``status`` and ``list`` show of times and progress."""

from __future__ import annotations

import asyncio
import json
import re
import traceback
from pathlib import Path
from typing import Protocol

import pytest
from click.testing import CliRunner, Result

from queued_jobs.cli import cli
from queued_jobs.queues.sqlite import SqliteQueueBroker


class Invoke(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "jobs.db"
    monkeypatch.setenv("QJ_CLI_DB", str(path))
    monkeypatch.setenv("QUEUED_JOBS_APP", "tests.cli_app:app")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def invoke(database: Path) -> Invoke:
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(cli, list(args), input=input, prog_name="queued-jobs")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            assert result.exc_info is not None
            pytest.fail("".join(traceback.format_exception(*result.exc_info)))
        assert not re.search(r"^Traceback", result.output, re.MULTILINE)
        return result

    return run


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
