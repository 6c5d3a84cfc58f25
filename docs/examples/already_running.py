"""Job types that run one job at a time: a second billing run is refused while the first
runs, and a newer index rebuild replaces the one running. On SQLite, with a worker in this
process."""

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from queued_jobs import (
    AlreadyRunning,
    ExecutionSettings,
    JobApp,
    JobClient,
    JobContext,
    SqliteStorage,
    WorkerSettings,
)

billing_may_end = asyncio.Event()


def build_app(path: Path) -> JobApp:
    # a short lease: a running job hears that it is replaced within a heartbeat (1 s)
    app = JobApp(SqliteStorage(path), settings=ExecutionSettings(lease=timedelta(seconds=3)))

    @app.job(name="billing.monthly", already_running=AlreadyRunning.REFUSE)
    async def bill(month: str, context: JobContext) -> str:
        await context.report_progress(0, "started")
        await billing_may_end.wait()
        return f"billed {month}"

    @app.job(name="search.rebuild", already_running=AlreadyRunning.REPLACE)
    async def rebuild(seconds: float, context: JobContext) -> str:
        await context.report_progress(0, "started")
        await asyncio.sleep(seconds)  # cancelled here when a newer rebuild replaces it
        return "index rebuilt"

    return app


async def started(client: JobClient, job_id: str) -> None:
    """Once the job's code runs, as its first progress report says (within 30 s)."""
    for _ in range(600):
        if (await client.get_job(job_id)).progress is not None:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not start")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder) / "jobs.db")
        worker = app.worker(WorkerSettings(poll_max=timedelta(milliseconds=50)))
        running = asyncio.create_task(worker.run())
        async with app.client() as client:
            await client.create_storage()

            first = await client.queue_job("billing.monthly", "2030-01", owner="ops")
            await started(client, first.id)
            second = await client.queue_job("billing.monthly", "2030-01", owner="ops")
            refused = await client.wait(second.id)
            assert refused.error is not None
            print(f"second billing run: {refused.status.value} ({refused.error.type})")
            print(f"  it names the first: {first.id in refused.error.message}")
            billing_may_end.set()
            billed = await client.wait(first.id)
            print(f"first billing run: {billed.status.value}: {billed.result}")

            old = await client.queue_job("search.rebuild", 3600, owner="ops")
            await started(client, old.id)
            new = await client.queue_job("search.rebuild", 0, owner="ops")
            rebuilt = await client.wait(new.id)
            replaced = await client.wait(old.id)
            print(f"old rebuild: {replaced.status.value}")
            print(f"new rebuild: {rebuilt.status.value}: {rebuilt.result}")
            attempts = await client.list_attempts(new.id)
            waited = {attempt.outcome.value for attempt in attempts[:-1]}
            print(f"  handed back while the old one stopped: {waited == {'released'}}")
        worker.stop()
        await running
        await worker.close()


asyncio.run(main())
