"""A job's output: the job prints with context.append_output; a client follows it while the
job runs, then reads it again from a position. On SQLite, with a worker in this process."""

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from queued_jobs import JobApp, JobContext, SqliteStorage, WorkerSettings


def build_app(path: Path) -> JobApp:
    app = JobApp(SqliteStorage(path))

    @app.job(name="reports.build")
    async def build(request: list[str], context: JobContext) -> int:
        for done, part in enumerate(request, 1):
            await context.append_output(f"building {part} ({done}/{len(request)})\n")
            await asyncio.sleep(0.2)  # the work
        await context.append_output("done\n")
        return len(request)

    return app


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder) / "jobs.db")
        worker = app.worker(WorkerSettings(poll_max=timedelta(milliseconds=50)))
        running = asyncio.create_task(worker.run())
        async with app.client() as client:
            await client.create_storage()
            job = await client.queue_job("reports.build", ["north", "south"], owner="ada")
            async with asyncio.timeout(30):
                async for read in client.follow_output(job.id):  # until the job ends
                    print(read.text, end="")
            print(f"{read.status.value}: {read.length} characters printed")
            tail = await client.read_output(job.id, after=read.length - len("done\n"))
            print(f"the last line: {tail.text!r} (complete: {tail.complete})")
        worker.stop()
        await running
        await worker.close()


asyncio.run(main())
