"""Sample jobs of the sample Functions app."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from queued_jobs import AzureStorage, JobApp, JobContext, JobRunner, QueueNames
from queued_jobs.samples import zip_builder

app = JobApp(AzureStorage.from_setting("AzureWebJobsStorage"), queues=QueueNames.from_setting())

# Zip the blobs under a folder of the job owner's own (`<owner>/...`) in the "documents"
# container; the result holds a SAS link.
documents = app.files("documents")
app.job(name="samples.build_zip")(zip_builder(documents))


class Greeting(BaseModel):
    name: str


@app.register
class Greet(JobRunner[Greeting, str]):
    job_type = "samples.greet"

    async def on_execute(self, request: Greeting, context: JobContext) -> str:
        return f"Hello, {request.name}!"


class Countdown(BaseModel):
    seconds: int = 10


@app.job(name="samples.countdown")
async def countdown(request: Countdown, context: JobContext) -> str:
    for left in range(request.seconds, 0, -1):
        context.raise_if_cancelled()
        await context.report_progress(100 * (request.seconds - left) / request.seconds, f"{left}s")
        await asyncio.sleep(1)
    return "lift-off"
