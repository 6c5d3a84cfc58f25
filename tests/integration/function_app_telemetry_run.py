"""Run by ``test_function_app_telemetry.py`` in a process of its own, as the Functions worker
runs the sample app: import ``function_app`` (which configures Azure Monitor from the
environment), queue a greeting, hand its message to the queue trigger as the host would,
flush the three providers and print the job's id, queue and status as one JSON line."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import uuid
from pathlib import Path

from azure.functions.queue import QueueMessage
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "function_app"))

import function_app  # the sample's folder is on the path only now


async def run_one_job() -> dict[str, str]:
    functions = {f.get_function_name(): f for f in function_app.function_app.get_functions()}
    trigger = functions["queued_jobs_normal"].get_user_function()
    async with function_app.app.client() as client:
        await client.create_storage()
        job = await client.queue_job("samples.greet", {"name": "Ada"}, owner="alice")
        queue = client.broker.queue(job.queue)
        [message] = await queue.receive()
        await queue.ack(message)  # the host deletes it once the function returns
        await trigger(
            QueueMessage(
                id=uuid.uuid4().hex, body=base64.b64encode(message.body.encode()), dequeue_count=1
            )
        )
        done = await client.get_job(job.id)
    return {"job_id": job.id, "queue": job.queue, "status": done.status.value}


def flush() -> None:
    """What a worker's exit would do, without waiting for the export intervals."""
    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        provider.force_flush()  # type: ignore[attr-defined]  # the SDK's, not the API's
    get_logger_provider().force_flush()  # type: ignore[attr-defined]


if __name__ == "__main__":
    result = asyncio.run(run_one_job())
    flush()
    print(json.dumps(result))
