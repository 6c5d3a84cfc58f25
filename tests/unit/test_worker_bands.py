"""A worker limited to some priority bands drains those and leaves the others alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from queued_jobs import JobApp, Priority, SqliteStorage, Worker, WorkerSettings
from queued_jobs.cli import cli
from queued_jobs.models import JobStatus
from tests.support.waiting import PATIENCE


def make_app(path: Path) -> JobApp:
    app = JobApp(SqliteStorage(path))

    @app.job(name="echo")
    async def echo(request: int) -> int:
        return request

    return app


async def test_a_worker_given_bands_runs_only_their_jobs(tmp_path: Path) -> None:
    app = make_app(tmp_path / "jobs.db")
    settings = WorkerSettings(
        poll_max=timedelta(milliseconds=50), sweep_interval=None, bands={"high", "low"}
    )
    async with app.client() as client:
        await client.create_storage()
        urgent = await client.queue_job("echo", 1, owner="ann", priority=Priority.HIGH)
        usual = await client.queue_job("echo", 2, owner="ann", priority=Priority.NORMAL)
        later = await client.queue_job("echo", 3, owner="ann", priority=Priority.LOW)
        host = app.worker(settings)
        assert [queue.name for queue in host.queues] == ["jobs-high", "jobs-low"]
        running = asyncio.create_task(host.run())
        try:
            async with asyncio.timeout(PATIENCE):
                await client.wait(urgent.id, poll=timedelta(milliseconds=20))
                await client.wait(later.id, poll=timedelta(milliseconds=20))
        finally:
            host.stop()
            await running
            await host.close()
        assert (await client.get_job(usual.id)).status is JobStatus.QUEUED


def test_worker_settings_refuse_an_unknown_band() -> None:
    with pytest.raises(ValueError, match="unknown priority band 'urgent'; one of: high"):
        WorkerSettings(bands=["high", "urgent"])
    assert WorkerSettings(bands="low").bands == frozenset({Priority.LOW})


def test_the_worker_command_takes_bands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Worker] = []

    async def serve_once(worker: Worker) -> None:
        served.append(worker)

    monkeypatch.setattr("queued_jobs.cli.run.run_until_signalled", serve_once)
    monkeypatch.setenv("QJ_CLI_DB", str(tmp_path / "jobs.db"))
    runner = CliRunner()
    app = ["--app", "tests.cli_app:app", "worker"]

    result = runner.invoke(cli, [*app, "--bands", "high, normal"], prog_name="queued-jobs")
    assert result.exit_code == 0, result.output
    assert [queue.name for queue in served[0].queues] == ["jobs-high", "jobs"]

    refused = runner.invoke(cli, [*app, "--bands", "high,\x1b[2Jx"], prog_name="queued-jobs")
    assert refused.exit_code == 2
    assert "'\\x1b[2Jx' is not one of: high, normal, low" in refused.output
    assert len(served) == 1
