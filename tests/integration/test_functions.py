"""The Functions blueprint, without Core Tools: bindings read from the app as the host reads
them, functions called directly with messages built as the host builds them, on Azurite."""

from __future__ import annotations

import asyncio
import base64
import importlib
import io
import json
import os
import runpy
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage as HostMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue.aio import QueueClient
from click.testing import CliRunner

from queued_jobs.app import AzureStorage, JobApp
from queued_jobs.cli import cli
from queued_jobs.client import JobClient
from queued_jobs.errors import ConfigurationError
from queued_jobs.execution.messages import encode_message
from queued_jobs.functions import QUEUE_SETTING, FunctionsHost, job_blueprint
from queued_jobs.models import JobStatus, PresenceKind, QueuedJob
from queued_jobs.queue_names import QueueNames
from queued_jobs.queues.azure_queue import AzureQueueBroker
from queued_jobs.queues.base import MAX_BODY_BYTES
from queued_jobs.samples import ZipResult
from tests.integration.jobs import build_app
from tests.support.azurite import Azurite

pytestmark = pytest.mark.azurite
FUNCTION_APP = Path(__file__).resolve().parents[2] / "function_app"


def function_app(app: JobApp, host: FunctionsHost | None = None) -> func.FunctionApp:
    host_app = func.FunctionApp()
    host_app.register_functions(job_blueprint(app, host=host))
    return host_app


def test_every_function_is_bound_to_its_queue_setting_and_connection() -> None:
    app = JobApp(AzureStorage("UseDevelopmentStorage=true"))

    functions = {f.get_function_name(): f for f in function_app(app).get_functions()}

    expected = {
        "queued_jobs_high": "%QUEUED_JOBS_QUEUE%-high",
        "queued_jobs_normal": "%QUEUED_JOBS_QUEUE%",
        "queued_jobs_low": "%QUEUED_JOBS_QUEUE%-low",
        "queued_jobs_high_poison": "%QUEUED_JOBS_QUEUE%-high-poison",
        "queued_jobs_normal_poison": "%QUEUED_JOBS_QUEUE%-poison",
        "queued_jobs_low_poison": "%QUEUED_JOBS_QUEUE%-low-poison",
    }
    assert set(functions) == {*expected, "queued_jobs_sweep"}
    for name, queue in expected.items():
        [data] = json.loads(functions[name].get_function_json())["bindings"]
        assert (data["type"], data["direction"], data["name"]) == ("queueTrigger", "IN", "message")
        assert (data["queueName"], data["connection"]) == (queue, "AzureWebJobsStorage")
    [timer] = json.loads(functions["queued_jobs_sweep"].get_function_json())["bindings"]
    assert (timer["type"], timer["schedule"]) == ("timerTrigger", "0 */1 * * * *")


def test_two_blueprints_with_different_prefixes_can_share_an_app() -> None:
    app = JobApp(AzureStorage("UseDevelopmentStorage=true"))
    host_app = func.FunctionApp()
    host_app.register_functions(job_blueprint(app))
    host_app.register_functions(job_blueprint(app, prefix="reports"))

    names = [f.get_function_name() for f in host_app.get_functions()]

    assert len(names) == len(set(names)) == 14


@pytest.fixture
async def deployed(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> AsyncIterator[tuple[JobApp, JobClient, dict[str, Callable[..., Awaitable[None]]]]]:
    suffix = uuid.uuid4().hex[:10]
    monkeypatch.setenv("QJ_TEST_EVENTS", str(tmp_path / "events.log"))
    monkeypatch.setenv(QUEUE_SETTING, f"fn{suffix}")
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    storage = AzureStorage.from_setting(table=f"fn{suffix}", container=f"fn{suffix}")
    app = build_app(storage)
    app.queues = QueueNames.from_setting()
    host = FunctionsHost(app)
    functions = {
        f.get_function_name(): f.get_user_function()
        for f in function_app(app, host).get_functions()
    }
    async with app.client() as client:
        await client.create_storage()
        yield app, client, functions
    await host.close()


def host_message(body: str, *, dequeue_count: int = 1) -> HostMessage:
    """A message the queue adapter sent, as the Functions host hands it over under
    ``messageEncoding: none`` (the sample's): the wire form (base64), delivery count."""
    return wire_message(base64.b64encode(body.encode()).decode(), dequeue_count=dequeue_count)


def wire_message(wire: str | bytes, *, dequeue_count: int = 1) -> HostMessage:
    """A message whose stored text (or, as a ``base64`` host decodes it, bytes) is ``wire``."""
    data = wire.encode() if isinstance(wire, str) else wire
    return HostMessage(id=uuid.uuid4().hex, body=data, dequeue_count=dequeue_count)


async def test_the_queue_trigger_runs_a_job_to_success(deployed: Any) -> None:
    _app, client, functions = deployed
    job = await client.queue_job("tests.work", {}, owner="alice")

    await functions["queued_jobs_normal"](
        host_message(encode_message(job, await client.repository.message_key()))
    )

    done = await client.get_job(job.id)
    assert (done.status, done.result) == (JobStatus.SUCCEEDED, {"attempt": 1})
    await functions["queued_jobs_normal"](
        host_message(encode_message(job, await client.repository.message_key()))
    )  # redelivered
    assert (await client.get_job(job.id)).attempts == 1


async def test_a_failed_attempt_is_retried_by_a_new_delayed_message_not_by_the_host(
    deployed: Any,
) -> None:
    _app, client, functions = deployed
    job = await client.queue_job("tests.work", {"failures": 1}, owner="alice")
    queue = client.broker.queue(job.queue)
    [original] = await queue.receive()
    await queue.ack(original)  # the host deletes the trigger message when the function returns

    await functions["queued_jobs_normal"](host_message(original.body))

    waiting = await client.get_job(job.id)
    assert waiting.status is JobStatus.QUEUED
    assert await queue.depth() == 1  # the retry, invisible for its backoff delay
    assert await queue.receive() == []


async def test_a_message_failing_at_its_last_delivery_fails_its_job(
    deployed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _app, client, functions = deployed
    job = await client.queue_job("tests.work", {}, owner="alice")
    body = encode_message(job, await client.repository.message_key())
    from queued_jobs.execution.pipeline import Pipeline

    async def crash(self: Pipeline, body: str, **kw: Any) -> Any:
        raise RuntimeError("the storage account is throttling us")

    monkeypatch.setattr(Pipeline, "handle", crash)

    with pytest.raises(RuntimeError):
        await functions["queued_jobs_normal"](host_message(body, dequeue_count=4))
    assert (await client.get_job(job.id)).status is JobStatus.QUEUED
    await functions["queued_jobs_normal"](host_message(body, dequeue_count=5))

    failed = await client.get_job(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert "failed on each of 5 deliveries" in failed.error.message


async def test_a_message_in_the_poison_queue_fails_its_job_with_the_reason(
    deployed: Any,
) -> None:
    _app, client, functions = deployed
    job = await client.queue_job("tests.work", {}, owner="alice", priority="high")

    await functions["queued_jobs_high_poison"](
        host_message(encode_message(job, await client.repository.message_key()), dequeue_count=1)
    )

    failed = await client.get_job(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert f"moved to {job.queue}-poison after 5 failed deliveries" in failed.error.message


async def test_a_poison_message_this_store_did_not_send_leaves_its_job_alone(
    deployed: Any,
) -> None:
    app, client, functions = deployed
    job = await client.queue_job("tests.work", {}, owner="alice", priority="high")
    forged = f'{{"v":1,"id":"{job.id}"}}'  # anyone who knows a job's id can write this

    await functions["queued_jobs_high_poison"](host_message(forged))

    assert (await client.get_job(job.id)).status is JobStatus.QUEUED
    dead = client.broker.queue(app.queues.for_priority("high") + "-deadletter")
    assert [m.body for m in await dead.receive()] == [forged]


async def test_an_unreadable_body_is_kept_in_the_dead_letter_queue(deployed: Any) -> None:
    app, client, functions = deployed

    await functions["queued_jobs_low"](host_message("{not json"))
    await functions["queued_jobs_low_poison"](host_message("also not json"))

    dead = client.broker.queue(app.queues.for_priority("low") + "-deadletter")
    assert sorted(m.body for m in await dead.receive()) == ["also not json", "{not json"]


async def raw_contents(azurite: Azurite, queue: str) -> list[str]:
    """The messages of ``queue`` exactly as stored (received, so every one is seen)."""
    async with QueueClient.from_connection_string(azurite.connection_string, queue) as raw:
        return [m.content async for m in raw.receive_messages(max_messages=32)]


async def test_a_dead_letter_from_the_functions_host_creates_no_queue(
    deployed: Any, azurite: Azurite
) -> None:
    app, client, functions = deployed
    band = app.queues.for_priority("low")

    await functions["queued_jobs_low"](wire_message("{not json"))

    assert await raw_contents(azurite, band + "-deadletter") == ["{not json"]
    with pytest.raises(ConfigurationError):  # a dead-letter queue has no poison queue
        await client.broker.queue(band + "-deadletter-poison").depth()


async def test_a_plain_body_over_the_size_limit_is_dead_lettered_whole_from_both_triggers(
    deployed: Any, azurite: Azurite
) -> None:
    app, _client, functions = deployed
    huge = "ü" + "x" * 60_000  # a foreign plain-text body: over 48 KiB, within Azure's 64 KiB

    await functions["queued_jobs_normal"](wire_message(huge, dequeue_count=1))
    await functions["queued_jobs_normal_poison"](wire_message(huge, dequeue_count=1))

    assert await raw_contents(azurite, app.queues.base + "-deadletter") == [huge, huge]


async def test_under_base64_a_body_that_is_not_utf8_keeps_its_exact_bytes(
    deployed: Any, azurite: Azurite
) -> None:
    app, _client, _functions = deployed
    host = FunctionsHost(app, message_encoding="base64")
    functions = {
        f.get_function_name(): f.get_user_function()
        for f in function_app(app, host).get_functions()
    }
    data = b"\xff\xfe" * (MAX_BODY_BYTES // 2)  # at the limit; U+FFFD for each byte is 3x that
    try:
        await functions["queued_jobs_high"](wire_message(data))  # as the host decoded it
        await functions["queued_jobs_high_poison"](wire_message(data[:10]))
    finally:
        await host.close()

    kept = await raw_contents(azurite, app.queues.for_priority("high") + "-deadletter")
    assert [base64.b64decode(k) for k in kept] == [data, data[:10]]


async def test_a_plain_job_message_in_poison_whose_job_never_ran_is_sent_again_encoded(
    deployed: Any,
) -> None:
    _app, client, functions = deployed
    job = await client.queue_job("tests.work", {}, owner="alice")
    queue = client.broker.queue(job.queue)
    [original] = await queue.receive()
    await queue.ack(original)  # a base64 host moved its plain-text copy to -poison unread

    handled_poison = functions["queued_jobs_normal_poison"]
    await handled_poison(wire_message(encode_message(job, await client.repository.message_key())))

    assert (await client.get_job(job.id)).status is JobStatus.QUEUED
    [resent] = await queue.receive()
    assert resent.body == encode_message(job, await client.repository.message_key())
    assert resent.wire != resent.body  # encoded this time
    await queue.ack(resent)
    await functions["queued_jobs_normal"](host_message(resent.body))
    assert (await client.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_a_plain_job_message_in_poison_whose_job_ran_fails_it(deployed: Any) -> None:
    _app, client, functions = deployed
    job = await client.queue_job("tests.work", {"failures": 1}, owner="alice")
    await functions["queued_jobs_normal"](
        wire_message(encode_message(job, await client.repository.message_key()))
    )  # plain text, read
    assert (await client.get_job(job.id)).attempts == 1

    await functions["queued_jobs_normal_poison"](
        wire_message(encode_message(job, await client.repository.message_key()))
    )

    assert (await client.get_job(job.id)).status is JobStatus.FAILED


def test_the_sample_host_json_matches_the_blueprint_defaults() -> None:
    queues = json.loads((FUNCTION_APP / "host.json").read_text())["extensions"]["queues"]
    host = FunctionsHost(JobApp(AzureStorage("UseDevelopmentStorage=true")))

    assert queues["messageEncoding"] == host.message_encoding == "none"
    assert queues["maxDequeueCount"] == host.max_dequeue_count


async def test_the_timer_function_sweeps_due_scheduled_jobs_onto_their_queue(
    deployed: Any,
) -> None:
    app, client, functions = deployed
    now = app.clock.now()
    due = QueuedJob.new(
        owner="alice",
        job_type="tests.work",
        request={},
        now=now,
        queue=app.queues.base,
        status=JobStatus.SCHEDULED,
        run_at=now - timedelta(seconds=1),
    )
    await client.repository.insert(due)

    await functions["queued_jobs_sweep"](TimerRequest(past_due=False))

    assert (await client.get_job(due.id)).status is JobStatus.QUEUED
    [message] = await client.broker.queue(due.queue).receive()
    assert due.id in message.body


async def test_an_instance_is_seen_in_the_table_once_it_handles_a_message_and_its_timer(
    deployed: Any,
) -> None:
    app, client, functions = deployed
    job = await client.queue_job("tests.work", {}, owner="alice")
    since = app.clock.now() - timedelta(seconds=1)

    await functions["queued_jobs_normal"](
        host_message(encode_message(job, await client.repository.message_key()))
    )
    await functions["queued_jobs_sweep"](TimerRequest(past_due=False))  # within the minute

    [seen] = await client.repository.list_presences(seen_since=since)
    assert seen.kind is PresenceKind.FUNCTIONS
    assert seen.host.endswith(f":{os.getpid()}")
    assert seen.details["queues"] == ",".join(app.queues.bands)


def test_the_sample_function_app_registers_the_blueprint_in_a_few_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = Path(__file__).resolve().parents[2] / "function_app"
    source = (folder / "function_app.py").read_text()
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.syspath_prepend(str(folder))

    module = runpy.run_path(str(folder / "function_app.py"))

    assert len(source.splitlines()) < 40
    names = {f.get_function_name() for f in module["function_app"].get_functions()}
    assert "queued_jobs_normal" in names
    assert len(names) == 7
    assert {"samples.greet", "samples.countdown"} <= set(module["app"].registry)


async def test_the_sample_apps_zip_builder_returns_a_sas_link_that_downloads_the_zip(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = FUNCTION_APP
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv(QUEUE_SETTING, f"zips{uuid.uuid4().hex[:10]}")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "sample_jobs", raising=False)
    samples = importlib.import_module("sample_jobs")
    monkeypatch.delitem(sys.modules, "sample_jobs")
    app: JobApp = samples.app
    host = FunctionsHost(app)
    trigger = {
        f.get_function_name(): f.get_user_function()
        for f in function_app(app, host).get_functions()
    }["queued_jobs_normal"]
    documents = app.files("documents")
    folder_name = f"contracts-{uuid.uuid4().hex[:8]}/"
    await documents.create()
    # An owner's files live in the owner's folder; the prefix is relative to it.
    files = {f"ada/{folder_name}{n}.txt": f"contract {n}".encode() * 100 for n in range(3)}
    for name, data in files.items():
        await documents.write(name, data, content_type="text/plain")

    async with app.client() as client:
        await client.create_storage()
        job = await client.queue_job("samples.build_zip", {"prefix": folder_name}, owner="ada")
        [message] = await client.broker.queue(job.queue).receive()
        await trigger(host_message(message.body, dequeue_count=message.dequeue_count))
        done = await client.get_job(job.id)
    await documents.close()
    await samples.documents.close()
    await host.close()

    assert done.status is JobStatus.SUCCEEDED, done.error
    result = ZipResult.model_validate(done.result)
    assert "sig=" in result.url
    assert "sp=r" in result.url  # a read-only SAS
    async with aiohttp.ClientSession() as http, http.get(result.url) as response:
        assert response.status == 200
        assert response.content_disposition is not None
        assert response.content_disposition.type == "attachment"
        assert response.content_disposition.filename == f"{job.id}.zip"
        body = await response.read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            name.removeprefix(f"ada/{folder_name}"): data for name, data in files.items()
        }


def test_create_storage_prepares_the_sample_apps_table_and_queues_on_azure(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"cli{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv(QUEUE_SETTING, queue)
    monkeypatch.syspath_prepend(str(FUNCTION_APP))
    monkeypatch.delitem(sys.modules, "sample_jobs", raising=False)

    created = CliRunner().invoke(cli, ["--app", "sample_jobs:app", "create-storage"])
    queued = CliRunner().invoke(
        cli,
        [
            "--app",
            "sample_jobs:app",
            "enqueue",
            "samples.greet",
            '{"name": "Ada"}',
            "--owner",
            "ada",
        ],
    )
    monkeypatch.delitem(sys.modules, "sample_jobs")

    assert created.exit_code == 0, created.output
    assert f"queues {queue}-high, {queue}, {queue}-low" in created.output
    assert queued.exit_code == 0, queued.output

    async def depths() -> list[int]:
        broker = AzureQueueBroker.from_connection(azurite.connection_string)
        try:
            names = [queue, f"{queue}-poison", f"{queue}-high", f"{queue}-low-poison"]
            names += [f"{queue}-deadletter", f"{queue}-high-deadletter"]
            return [await broker.queue(name).depth() for name in names]
        finally:
            await broker.close()

    assert asyncio.run(depths()) == [1, 0, 0, 0, 0, 0]  # every queue exists; the job is queued
