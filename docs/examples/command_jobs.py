"""Console programs as jobs: a nightly export that reports back, and a program whose exit
code says "try again later". On SQLite, with a worker in this process."""

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from queued_jobs import JobApp, SqliteStorage, WorkerSettings
from queued_jobs.commands import Command, ExitCodes, Output

EXPORT = """
import sys
from queued_jobs.commands import program

request = program.request()
rows = request["input"]["rows"]
for done in range(0, rows + 1, rows // 4):
    program.progress(100 * done / rows, f"{done} of {rows} rows")
print("exported", rows, "rows since", sys.argv[-1])
program.result({"rows": rows})
"""

FLAKY = """
import os, sys
attempt = int(os.environ["QUEUED_JOBS_ATTEMPT"])
print("attempt", attempt, file=sys.stderr)
sys.exit(75 if attempt == 1 else 0)  # 75: EX_TEMPFAIL, "try again later"
"""


def build_app(folder: Path) -> JobApp:
    app = JobApp(SqliteStorage(folder / "jobs.db"))
    output = Output(store=app.files("command-output"))
    app.add(
        Command(
            job_type="reports.export",
            program=sys.executable,
            args=["-c", EXPORT, "--since"],
            allow_args=True,  # a request adds the date after --since
            max_run_time=timedelta(minutes=30),
            output=output,
            job_aware=True,
        )
    )
    app.add(
        Command(
            job_type="mail.flush",
            program=sys.executable,
            args=["-c", FLAKY],
            exit_codes=ExitCodes(retry=frozenset({75}), permanent=frozenset({2})),
        )
    )
    return app


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder))
        worker = app.worker(WorkerSettings(poll_max=timedelta(milliseconds=50)))
        running = asyncio.create_task(worker.run())
        async with app.client() as client:
            await client.create_storage()
            await app.files("command-output").create()
            export = await client.queue_job(
                "reports.export", {"args": ["2026-11-01"], "input": {"rows": 1200}}, owner="ada"
            )
            flush = await client.queue_job("mail.flush", None, owner="ada")
            for job in (export, flush):
                async with asyncio.timeout(60):
                    done = await client.wait(job.id)
                print(f"{done.job_type}: {done.status.value} after {done.attempts} attempts")
                print(f"  exit code {done.result['exit_code']}, result {done.result['result']}")
                print(f"  output: {done.output.text if done.output else ''!r}")
            stored = (await client.get_job(export.id)).result["output"]
            name = stored["name"].rsplit("/", 1)[-1]
            print(f"export's whole output: {name}, {stored['size']} bytes, with a link")
        worker.stop()
        await running
        await worker.close()


asyncio.run(main())
