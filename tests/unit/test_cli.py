"""The ``queued-jobs`` command line against a SQLite app (``tests/cli_app.py``)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from queued_jobs import QueuedJob, Worker, WorkerSettings
from tests import cli_app
from tests.support.cli import Invoke
from tests.support.unreadable_rows import Damage, plant_in_sqlite
from tests.support.waiting import PATIENCE

ROOT = Path(__file__).resolve().parents[2]


def finished(job_type: str, request: Any, *, owner: str = "ada") -> QueuedJob:
    """A job run to its end by an inline client of the test app."""

    async def run() -> QueuedJob:
        async with cli_app.app.client(inline=True) as client:
            return await client.queue_job(job_type, request, owner=owner)

    return asyncio.run(run())


def enqueued_id(result: Result) -> str:
    assert result.exit_code == 0, result.output
    job_id = result.stdout.splitlines()[0]
    assert len(job_id) == 29
    return job_id


def record(invoke: Invoke, job_id: str) -> dict[str, Any]:
    result = invoke("status", job_id, "--json")
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.fixture
def worker(database: Path) -> Iterator[Worker]:
    """A worker of the test app running in a thread of this process."""
    started = threading.Event()
    running: list[tuple[asyncio.AbstractEventLoop, Worker]] = []

    async def work() -> None:
        settings = WorkerSettings(poll_max=timedelta(milliseconds=50), sweep_interval=None)
        host = cli_app.app.worker(settings)
        running.append((asyncio.get_running_loop(), host))
        started.set()
        try:
            await host.run()
        finally:
            await host.close()

    thread = threading.Thread(target=asyncio.run, args=(work(),))
    thread.start()
    assert started.wait(PATIENCE)
    loop, host = running[0]
    yield host
    loop.call_soon_threadsafe(host.stop)
    thread.join(PATIENCE)
    assert not thread.is_alive()


# --- round trips ---------------------------------------------------------------------------


def test_version_needs_no_app(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUED_JOBS_APP")

    result = invoke("--version")

    assert result.exit_code == 0
    assert "queued-jobs, version" in result.output


def test_enqueue_prints_the_id_of_a_job_stored_with_every_option(invoke: Invoke) -> None:
    job_id = enqueued_id(
        invoke(
            "enqueue", "greet", '{"name": "Ada"}', "--owner", "ada@example.com",
            "--priority", "high", "--delay", "3600", "--unique-key", "greet:ada",
            "--max-attempts", "5", "--tag", "vip", "--tag", "cli",
        )
    )  # fmt: skip

    job = record(invoke, job_id)
    assert job["job_type"] == "greet"
    assert job["request"] == {"name": "Ada"}
    assert job["owner"] == "ada@example.com"
    assert (job["priority"], job["queue"]) == ("high", "jobs-high")
    assert job["run_at"] is not None
    assert (job["unique_key"], job["max_attempts"]) == ("greet:ada", 5)
    assert job["tags"] == ["vip", "cli"]
    assert job["status"] == "queued"


def test_enqueue_reads_the_request_from_standard_input(invoke: Invoke) -> None:
    job_id = enqueued_id(invoke("enqueue", "greet", "-", "--owner", "ada", input='{"name": "Bo"}'))

    assert record(invoke, job_id)["request"] == {"name": "Bo"}


def test_list_shows_jobs_newest_first_and_filters_them(invoke: Invoke) -> None:
    done = finished("greet", {"name": "Ada"}, owner="ada")
    ada = enqueued_id(invoke("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada"))
    bo = enqueued_id(
        invoke("enqueue", "explode", '{"name": "Bo"}', "--owner", "bo", "--tag", "vip")
    )

    table = invoke("list")
    assert table.exit_code == 0
    rows = [line for line in table.output.splitlines() if line[:29] in {done.id, ada, bo}]
    assert [row[:29] for row in rows] == [bo, ada, done.id]
    assert "explode" in rows[0]
    assert "queued" in rows[0]
    assert "0/1" in rows[0]
    assert "succeeded" in rows[2]

    def listed(*options: str) -> list[str]:
        result = invoke("list", "--json", *options)
        assert result.exit_code == 0, result.output
        return [job["id"] for job in json.loads(result.stdout)]

    assert listed("--owner", "ada") == [ada, done.id]
    assert listed("--owner", "ada", "--status", "succeeded") == [done.id]
    assert listed("--status", "queued", "--status", "running") == [bo, ada]
    assert listed("--type", "explode") == [bo]
    assert listed("--tag", "vip") == [bo]
    assert listed("--tag", "vip", "--status", "succeeded") == []
    assert listed("--limit", "1") == [bo]
    assert listed("--owner", "nobody") == []
    assert invoke("list", "--owner", "nobody").output == "no jobs\n"


def test_status_shows_a_finished_job_with_its_result_and_attempts(invoke: Invoke) -> None:
    job = finished("greet", {"name": "Ada"})

    result = invoke("status", job.id)

    assert result.exit_code == 0
    for expected in (job.id, "succeeded", "1 of 3", '"Hello, Ada!"', "40% thinking [hard]"):
        assert expected in result.output
    assert "attempts" in result.output
    assert "duration" in result.output


def test_status_shows_why_a_job_failed(invoke: Invoke) -> None:
    job = finished("explode", {"name": "Zed"})

    result = invoke("status", job.id)

    assert result.exit_code == 0
    assert "failed" in result.output
    assert "PermanentError: Zed cannot be greeted" in result.output


def test_cancel_retry_and_purge_a_job(invoke: Invoke) -> None:
    job_id = enqueued_id(invoke("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada"))

    cancelled = invoke("cancel", job_id)
    assert (cancelled.exit_code, cancelled.output) == (0, f"cancelled job {job_id}\n")
    assert record(invoke, job_id)["status"] == "cancelled"

    retried = invoke("retry", job_id, "--attempts", "2")
    assert retried.exit_code == 0
    assert "again (2 more attempts)" in retried.output
    assert record(invoke, job_id)["status"] == "queued"

    assert invoke("purge", "--older-than", "0", "--yes").output == "purged 0 jobs\n"
    assert invoke("cancel", job_id).exit_code == 0
    assert invoke("purge", "--older-than", "1", "--yes").output == "purged 0 jobs\n"
    assert invoke("purge", "--older-than", "0", "--yes").output == "purged 1 job\n"

    gone = invoke("status", job_id)
    assert gone.exit_code == 1
    assert f"no job with id '{job_id}'" in gone.output


def test_purge_asks_before_deleting(invoke: Invoke) -> None:
    job = finished("greet", {"name": "Ada"})

    declined = invoke("purge", "--older-than", "0", input="n\n")
    assert declined.exit_code == 1
    assert "Delete every finished job" in declined.output
    assert "Aborted" in declined.output
    assert record(invoke, job.id)["status"] == "succeeded"

    confirmed = invoke("purge", "--older-than", "0", input="y\n")
    assert confirmed.exit_code == 0
    assert "purged 1 job" in confirmed.output


# --- following a job -------------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
def test_status_wait_follows_a_job_to_success_with_a_progress_bar(invoke: Invoke) -> None:
    job_id = enqueued_id(invoke("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada"))

    result = invoke("status", job_id, "--wait")

    assert result.exit_code == 0, result.output
    assert "100%" in result.stderr
    assert "━" in result.stderr
    assert "succeeded" in result.stdout
    assert '"Hello, Ada!"' in result.stdout


@pytest.mark.usefixtures("worker")
def test_enqueue_wait_exits_1_when_the_job_fails(invoke: Invoke) -> None:
    result = invoke("enqueue", "explode", '{"name": "Zed"}', "--owner", "zed", "--wait")

    assert result.exit_code == 1
    job_id = result.stdout.splitlines()[0]
    assert record(invoke, job_id)["status"] == "failed"
    assert "Zed cannot be greeted" in result.stdout


def test_status_wait_on_a_finished_job_returns_at_once(invoke: Invoke) -> None:
    succeeded = finished("greet", {"name": "Ada"})
    failed = finished("explode", {"name": "Zed"})

    assert invoke("status", succeeded.id, "--wait").exit_code == 0
    waited = invoke("status", failed.id, "--wait", "--json")
    assert waited.exit_code == 1
    assert json.loads(waited.stdout)["status"] == "failed"


def test_the_worker_command_runs_jobs_until_sigterm(database: Path, invoke: Invoke) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "queued_jobs", "worker"],  # the app from QUEUED_JOBS_APP
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        result = invoke("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada", "--wait")
        assert result.exit_code == 0, result.output
        assert "100%" in result.stderr
        assert '"Hello, Ada!"' in result.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert process.returncode == 0, log
    assert "stopped" in log


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [(["worker", "tests.cli_app:app"], None), (["worker"], "tests.cli_app:app")],
    ids=["positional-app", "global-app"],
)
def test_worker_takes_the_app_as_argument_or_global_option(
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    environment: str | None,
) -> None:
    served: list[Worker] = []

    async def serve_once(worker: Worker) -> None:
        served.append(worker)

    monkeypatch.setattr("queued_jobs.cli.run.run_until_signalled", serve_once)
    monkeypatch.delenv("QUEUED_JOBS_APP")
    if environment:
        monkeypatch.setenv("QUEUED_JOBS_APP", environment)

    result = invoke(*arguments, "--identity", "test-worker")

    assert result.exit_code == 0, result.output
    assert [worker.identity for worker in served] == ["test-worker"]


# --- errors ----------------------------------------------------------------------------------

BAD_INPUT = {
    "unknown-job-type": (
        ["enqueue", "nope", "{}", "--owner", "ada"],
        2,
        "no job type 'nope' is registered (registered: anyreq, chatter, explode, greet, mimic)",
    ),
    "invalid-json": (
        ["enqueue", "greet", '{"name": ', "--owner", "ada"],
        2,
        "REQUEST_JSON is not valid JSON: Expecting value at line 1, column 10",
    ),
    "invalid-request": (
        ["enqueue", "greet", '{"nom": "Ada"}', "--owner", "ada"],
        2,
        "invalid request for job type 'greet'",
    ),
    "request-missing": (
        ["enqueue", "greet", "--owner", "ada"],
        2,
        "Input should be a valid dictionary or instance of Greeting",
    ),
    "owner-missing": (["enqueue", "greet", "{}"], 2, "Missing option '--owner'"),
    "unknown-status": (["list", "--status", "done"], 2, "'done' is not one of"),
    "limit-too-large": (["list", "--limit", "5000"], 2, "5000 is not in the range 1<=x<=1000"),
    "tag-too-long": (["list", "--tag", "t" * 65], 2, "tag is 65 characters; at most 64"),
    "job-not-found": (["status", "0" * 29], 1, f"no job with id '{'0' * 29}'"),
    "cancel-not-found": (["cancel", "nope"], 1, "no job with id 'nope'"),
    "retry-not-found": (["retry", "nope"], 1, "no job with id 'nope'"),
    "app-not-importable": (
        ["--app", "tests.no_such_module:app", "list"],
        2,
        "Invalid value for '--app': cannot import 'tests.no_such_module'",
    ),
    "app-not-a-job-app": (
        ["--app", "tests.cli_app:Greeting", "list"],
        2,
        "'tests.cli_app:Greeting' is not a JobApp",
    ),
    "storage-misconfigured": (
        ["--app", "tests.cli_misconfigured_app", "list"],
        2,
        "'tests.cli_misconfigured_app' cannot make its app: the Azure Storage connection "
        "string has neither",
    ),
}


@pytest.mark.parametrize(("arguments", "exit_code", "message"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_is_reported_without_a_traceback(
    invoke: Invoke, arguments: list[str], exit_code: int, message: str
) -> None:
    result = invoke(*arguments)

    assert result.exit_code == exit_code, result.output
    assert message in result.output


def test_invalid_json_on_standard_input_says_so(invoke: Invoke) -> None:
    result = invoke("enqueue", "greet", "-", "--owner", "ada", input="{\n  oops\n}")

    assert result.exit_code == 2
    assert "standard input is not valid JSON" in result.output
    assert "line 2, column 3" in result.output


def test_invalid_request_shows_what_pydantic_found(invoke: Invoke) -> None:
    result = invoke("enqueue", "greet", '{"nom": "Ada"}', "--owner", "ada")

    assert "name\n  Field required" in result.output


def test_no_app_given_names_the_option_and_the_variable(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUEUED_JOBS_APP")

    result = invoke("list")

    assert result.exit_code == 2
    assert "pass --app MODULE:ATTR or set QUEUED_JOBS_APP" in result.output


def test_a_duplicate_unique_key_names_the_job_holding_it(invoke: Invoke) -> None:
    command = ("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada", "--unique-key", "k")
    first = enqueued_id(invoke(*command))

    result = invoke(*command)

    assert result.exit_code == 1
    assert f"unique key 'k' is held by job {first}" in result.output


def test_a_unique_key_is_the_owners_unless_the_scope_is_global(invoke: Invoke) -> None:
    ada = ("enqueue", "greet", '{"name": "Ada"}', "--owner", "ada", "--unique-key", "k")
    bob = ("enqueue", "greet", '{"name": "Bob"}', "--owner", "bob", "--unique-key", "k")
    enqueued_id(invoke(*ada))
    enqueued_id(invoke(*bob))  # another owner's key of the same name: free
    enqueued_id(invoke(*ada, "--unique-scope", "global"))

    result = invoke(*bob, "--unique-scope", "global")

    assert result.exit_code == 1
    assert "held by a job you cannot see" in result.output
    assert "status" not in result.output  # nothing of that job to look up


def test_retrying_a_job_that_did_not_fail_is_refused(invoke: Invoke) -> None:
    job = finished("greet", {"name": "Ada"})

    result = invoke("retry", job.id)

    assert result.exit_code == 1
    assert f"only failed or cancelled jobs can be retried; job {job.id} is succeeded" in (
        result.output
    )


def test_cancelling_a_finished_job_is_refused(invoke: Invoke) -> None:
    job = finished("greet", {"name": "Ada"})

    result = invoke("cancel", job.id)

    assert result.exit_code == 1
    assert f"job {job.id} already finished (succeeded): nothing to cancel" in result.output


def test_an_unreachable_store_fails_fast_with_exit_1(invoke: Invoke) -> None:
    started = time.monotonic()

    result = invoke("--app", "tests.cli_app:unreachable", "list")

    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert "could not reach Azure Storage" in result.output
    assert "Check that the job store is running" in result.output
    # The SDK's default retries would take minutes; the CLI's client gives up in seconds.
    assert elapsed < 60, f"took {elapsed:.1f} s"


# --- unreadable records --------------------------------------------------------------------


def unreadable(database: Path, damage: Damage = Damage.INVALID) -> QueuedJob:
    """A job row the store holds but cannot read back (the database must exist)."""
    job = QueuedJob.new(owner="ada", job_type="greet", request={"name": "X"})
    plant_in_sqlite(database, job, damage)
    return job


def test_status_of_an_unreadable_job_says_what_is_wrong_in_one_sentence(
    invoke: Invoke, database: Path
) -> None:
    finished("greet", {"name": "Ada"})  # creates the database
    broken = unreadable(database)

    for command in (("status", broken.id), ("status", broken.id, "--json")):
        result = invoke(*command)

        assert result.exit_code == 1, result.output
        [line] = result.output.splitlines()
        assert f"the stored record of job {broken.id} cannot be read" in line
        assert "max_attempts: Input should be less than or equal to 1000" in line


def test_list_shows_the_readable_jobs_and_names_the_skipped_rows_on_standard_error(
    invoke: Invoke, database: Path
) -> None:
    done = finished("greet", {"name": "Ada"})
    broken = [unreadable(database, d) for d in (Damage.NOT_JSON, Damage.TOO_DEEP)]
    named = f"skipped 2 job records that cannot be read: {broken[1].id}, {broken[0].id}"

    table = invoke("list")
    as_json = invoke("list", "--json")
    owned = invoke("list", "--json", "--owner", "ada")

    for result in (table, as_json, owned):
        assert result.exit_code == 0, result.output
        assert named in result.stderr
        assert all(job.id not in result.stdout for job in broken)
    assert done.id in table.stdout
    for result in (as_json, owned):
        assert [job["id"] for job in json.loads(result.stdout)] == [done.id]


def test_retry_with_more_attempts_than_a_job_may_have_says_so_and_exits_2(
    invoke: Invoke,
) -> None:
    job = finished("explode", {"name": "Zed"})

    result = invoke("retry", job.id, "--attempts", "1000")

    assert result.exit_code == 2, result.output
    assert (
        f"job {job.id} has used 1 of at most 1000 attempts, so it can be given at most 999 "
        "more, not 1000"
    ) in result.output
    assert record(invoke, job.id)["max_attempts"] == 1
    assert invoke("retry", job.id, "--attempts", "999").exit_code == 0
    assert record(invoke, job.id)["max_attempts"] == 1000


def test_a_request_nested_past_what_json_can_parse_is_refused_in_a_sentence(
    invoke: Invoke,
) -> None:
    deep = '{"name": "Ada", "more": ' + "[" * 100_000 + "]" * 100_000 + "}"

    result = invoke("enqueue", "greet", "-", "--owner", "ada", input=deep)

    assert result.exit_code == 2, result.output
    assert "standard input nests lists and objects too deeply to be read" in result.output
    assert "at most 64 levels" in result.output


_DEEP = '{"x": ' + "[" * 300 + "]" * 300 + "}"
_UNDECODABLE = b"\xff".decode("utf-8", "surrogateescape")  # what a shell's byte 0xff becomes
HOSTILE_INPUT = {
    "request-300-deep": (["enqueue", "anyreq", _DEEP, "--owner", "me"], 2, "nested more than 64"),
    "request-5000-digits": (
        ["enqueue", "anyreq", '{"x": ' + "9" * 5000 + "}", "--owner", "me"],
        2,
        "REQUEST_JSON holds an integer of more than 4,300 digits",
    ),
    "request-infinity": (
        ["enqueue", "anyreq", '{"x": Infinity}', "--owner", "me"],
        2,
        "the request holds a number that is not finite",
    ),
    "enqueue-undecodable-owner": (
        ["enqueue", "anyreq", "{}", "--owner", _UNDECODABLE],
        2,
        "owner is not valid Unicode text",
    ),
    "enqueue-undecodable-tag": (
        ["enqueue", "anyreq", "{}", "--owner", "me", "--tag", _UNDECODABLE],
        2,
        "tag is not valid Unicode text",
    ),
    "list-undecodable-owner": (["list", "--owner", _UNDECODABLE], 2, "owner is not valid Unicode"),
    "status-undecodable-id": (["status", _UNDECODABLE], 1, "no job with id '\\udcff'"),
    "status-wait-undecodable-id": (["status", "--wait", _UNDECODABLE], 1, "no job with id"),
    "cancel-undecodable-id": (["cancel", _UNDECODABLE], 1, "no job with id '\\udcff'"),
    "retry-undecodable-id": (["retry", _UNDECODABLE], 1, "no job with id '\\udcff'"),
    "status-huge-id": (["status", "f" * 100_000], 1, "no job with id 'fffff"),
}


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"), HOSTILE_INPUT.values(), ids=HOSTILE_INPUT
)
def test_hostile_input_is_refused_in_one_sentence(
    invoke: Invoke, arguments: list[str], exit_code: int, message: str
) -> None:
    result = invoke(*arguments)

    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert len(result.output) < 1000


def test_a_refused_request_stores_nothing(invoke: Invoke) -> None:
    for request in (_DEEP, '{"x": ' + "9" * 4301 + "}", '{"x": NaN}', "[-Infinity]"):
        assert invoke("enqueue", "anyreq", request, "--owner", "me").exit_code == 2

    assert invoke("list").output.strip() == "no jobs"
    assert invoke("list", "--owner", "me").output.strip() == "no jobs"


def test_an_integer_of_4300_digits_is_stored_and_read_back(invoke: Invoke) -> None:
    job_id = enqueued_id(invoke("enqueue", "anyreq", "[" + "9" * 4300 + "]", "--owner", "me"))

    assert record(invoke, job_id)["request"] == [int("9" * 4300)]
