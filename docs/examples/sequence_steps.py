"""Sequences: a fan-out that waits for the first answer and hands it on, a branch on a
mixed outcome, and a loop that its guard stops. On SQLite, with a worker in this process."""

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from queued_jobs import (
    JobApp,
    PermanentError,
    Sequence,
    SequenceClient,
    SqliteStorage,
    WorkerSettings,
)


class Quote(BaseModel):
    source: str
    price: float = 0.0
    seconds: float = 0.0  # how long the source takes to answer
    previous: Any = None  # the results of the step before (pass_results)


def build_app(path: Path) -> JobApp:
    app = JobApp(SqliteStorage(path))

    @app.job(name="prices.fetch")
    async def fetch(request: Quote) -> dict[str, Any]:
        await asyncio.sleep(request.seconds)
        if request.price < 0:
            raise PermanentError(f"{request.source} is down")
        return {"source": request.source, "price": request.price}

    @app.job(name="prices.report")
    async def report(request: Quote) -> str:
        answers = [job["result"] for job in request.previous["jobs"] if job["result"]]
        return ", ".join(f"{a['source']}: {a['price']}" for a in answers)

    return app


def fetch(source: str, price: float, seconds: float = 0.0) -> dict[str, Any]:
    return {
        "job_type": "prices.fetch",
        "request": {"source": source, "price": price, "seconds": seconds},
    }


FIRST_ANSWER = [
    {  # three sources at once; the first that answers wins
        "jobs": [fetch("slow", 1.5, seconds=0.6), fetch("fast", 1.25), fetch("down", -1)],
        "exit": "wait_any",
    },
    {"jobs": [{"job_type": "prices.report", "request": {"source": "all"}}], "pass_results": True},
]
BRANCH = [
    {"jobs": [fetch("a", 1.0), fetch("down", -1)], "on_mixed": "goto:2"},
    {"jobs": [fetch("never", 0.0)]},  # skipped: the mixed outcome goes to step 2
    {"jobs": [fetch("backup", 2.0)], "on_success": "end:succeeded"},
]
LOOP = [{"jobs": [fetch("down", -1)], "on_failure": "goto:0"}]


async def finished(sequences: SequenceClient, sequence_id: str) -> Sequence:
    """The sequence once it ended (within 30 s)."""
    for _ in range(600):
        sequence = await sequences.get(sequence_id)
        if sequence.status != "running":
            return sequence
        await asyncio.sleep(0.05)
    raise TimeoutError(f"sequence {sequence_id} is still running")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder) / "jobs.db")
        worker = app.worker(WorkerSettings(poll_max=timedelta(milliseconds=50)))
        running = asyncio.create_task(worker.run())
        async with app.client() as client:
            await client.create_storage()
            sequences = SequenceClient(client)
            started = [
                await sequences.start(FIRST_ANSWER, owner="ada", name="first answer"),
                await sequences.start(BRANCH, owner="ada", name="branch"),
                await sequences.start(LOOP, owner="ada", name="loop", max_iterations=3),
            ]
            for sequence in started:
                done = await finished(sequences, sequence.id)
                print(f"{done.name}: {done.status.value}")
                for run in done.runs:
                    print(f"  step {run.step}, iteration {run.iteration}: {run.outcome.value}")
                if done.reason:
                    print(f"  reason: {done.reason}")
            last = (await sequences.get(started[0].id)).runs[-1].jobs[0]
            print(f"report: {(await client.get_job(last.job_id)).result}")
        worker.stop()
        await running
        await worker.close()


asyncio.run(main())
