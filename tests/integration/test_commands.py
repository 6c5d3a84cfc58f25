"""Console programs run as jobs, on SQLite and Azurite: real programs (``programs/``), run
by a real worker, their output captured in every mode, their exit codes counted, their
whole process tree stopped on time-out and cancellation, and their arguments passed on
exactly as given."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs.app import JobApp
from queued_jobs.client import JobClient
from queued_jobs.errors import InvalidInput
from queued_jobs.models import AttemptOutcome, JobStatus, QueuedJob
from tests.integration.command_jobs import output_folder, output_store
from tests.integration.conftest import Backend
from tests.integration.test_execution import ClientOf, RunWorker
from tests.support.pids import alive, pids_in
from tests.support.waiting import until

pytestmark = pytest.mark.asyncio

#: Arguments a shell would read as commands, quotes, globs, breaks: they must arrive as
#: they are (none of them may create ``MARKER``).
HOSTILE = [
    "a b",
    "$(touch {marker})",
    "`touch {marker}`",
    "; touch {marker}",
    "| touch {marker}",
    "&& touch {marker} && exit 1",
    "*",
    "'\"\\",
    "line\nbreak",
    "ünïcödé ✓",
    "--help",
    "",
]


async def finished(client: JobClient, job_id: str) -> bool:
    return (await client.get_job(job_id)).is_terminal


async def run_until_done(
    run_worker: RunWorker, app: JobApp, client: JobClient, *jobs: QueuedJob, limit: float = 60
) -> list[QueuedJob]:
    async def all_done() -> bool:
        return all([await finished(client, job.id) for job in jobs])

    await run_worker(app, all_done, limit=limit)
    return [await client.get_job(job.id) for job in jobs]


@pytest.fixture
async def apps(backend: Backend, client_of: ClientOf) -> AsyncIterator[OpenApp]:
    """``await apps()``: the test app on the backend and a client of it; the output store
    its commands used is closed after the test."""
    opened: list[JobApp] = []

    async def open_app() -> tuple[JobApp, JobClient]:
        app = backend.app()
        opened.append(app)
        client: Any = await client_of(app)
        return app, client

    yield open_app
    for app in opened:
        await output_store(app).close()


OpenApp = Callable[[], Awaitable[tuple[JobApp, JobClient]]]


def hostile(tmp_path: Path) -> tuple[list[str], Path]:
    marker = tmp_path / "marker"
    return [arg.format(marker=marker) for arg in HOSTILE], marker


async def test_arguments_with_shell_metacharacters_reach_the_program_verbatim(
    apps: OpenApp, run_worker: RunWorker, tmp_path: Path
) -> None:
    app, client = await apps()
    args, marker = hostile(tmp_path)
    job = await client.queue_job(
        "tests.cmd.echo",
        {"args": args, "env": {"GREETING": "$(touch " + str(marker) + ")"}, "input": [1, "a"]},
        owner="ada",
    )

    [done] = await run_until_done(run_worker, app, client, job)

    assert done.status is JobStatus.SUCCEEDED, done.error
    said = done.result["result"]
    assert said["argv"] == args
    assert said["greeting"] == f"$(touch {marker})"
    assert said["input"] == [1, "a"]
    assert (said["job_id"], said["attempt"]) == (job.id, 1)
    # the worker's own settings (QJ_TEST_*) are not passed on to programs
    assert said["inherited"] == []
    assert done.output is not None
    assert done.output.text == "said it all\n"
    assert not marker.exists()


async def test_a_shell_command_gets_request_arguments_as_positional_parameters(
    apps: OpenApp, run_worker: RunWorker, tmp_path: Path
) -> None:
    app, client = await apps()
    args, marker = hostile(tmp_path)
    job = await client.queue_job("tests.cmd.shell", {"args": args}, owner="ada")

    [done] = await run_until_done(run_worker, app, client, job)

    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.output is not None
    assert done.output.text == "\n".join(["tests.cmd.shell", *args]) + "\n"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("job_type", "request_", "refusal"),
    [
        ("tests.cmd.echo", {"env": {"PATH": "/evil"}}, "does not let a request set PATH"),
        ("tests.cmd.echo", {"env": {"QUEUED_JOBS_JOB_ID": "x"}}, "does not let a request set"),
        ("tests.cmd.raw_bytes", {"args": ["--x"]}, "takes no arguments from a request"),
        ("tests.cmd.echo", {"args": ["a\x00b"]}, "NUL"),
        ("tests.cmd.echo", {"args": ["x"] * 65}, "at most 64 arguments"),
        ("tests.cmd.echo", {"program": "/bin/sh"}, "Extra inputs are not permitted"),
        ("tests.cmd.echo", {"args": "rm -rf /"}, "valid list"),
    ],
    ids=["env", "reserved-env", "args", "nul", "too-many", "program", "not-a-list"],
)
async def test_a_request_beyond_what_its_command_allows_is_refused_when_queued(
    apps: OpenApp,
    job_type: str,
    request_: dict[str, Any],
    refusal: str,
) -> None:
    _, client = await apps()

    with pytest.raises(InvalidInput, match=refusal):
        await client.queue_job(job_type, request_, owner="ada")

    assert (await client.list_jobs(owner="ada")).items == []


def expected_chatter(lines: int) -> list[str]:
    return [f"{number:08d} " + "x" * 90 for number in range(lines)]


async def test_megabytes_of_output_are_kept_whole_in_store_and_file_and_their_end_on_the_record(
    apps: OpenApp, run_worker: RunWorker
) -> None:
    app, client = await apps()
    lines = 60_000  # 6 MB
    job = await client.queue_job("tests.cmd.chatty_overwrite", {"args": [str(lines)]}, owner="ada")

    [done] = await run_until_done(run_worker, app, client, job, limit=120)

    assert done.status is JobStatus.SUCCEEDED, done.error
    stored = done.result["output"]
    content = (await output_store(app).read(stored["name"])).decode()
    printed = content.splitlines()
    assert [line for line in printed if not line.startswith("stderr")] == expected_chatter(lines)
    assert [line for line in printed if line.startswith("stderr")] == [
        f"stderr at {n}" for n in range(0, lines, 10_000)
    ]
    assert stored["size"] == len(content.encode())
    local = Path(done.result["output_file"]).read_bytes()  # noqa: ASYNC240 - a test's file
    assert hashlib.sha256(local).digest() == hashlib.sha256(content.encode()).digest()
    output = done.output
    assert output is not None
    assert output.length == done.result["output_length"] == len(content)
    assert content.endswith(output.text)
    assert len(output.text) <= 8_000
    assert output.text.startswith(f"{lines - len(output.text) // 100:08d} ")  # a whole line


async def test_local_output_files_are_appended_to_or_named_by_time_as_their_mode_says(
    apps: OpenApp, run_worker: RunWorker
) -> None:
    app, client = await apps()
    jobs = []
    for job_type in ("tests.cmd.chatty_append", "tests.cmd.chatty_timestamped") * 2:
        jobs.append(await client.queue_job(job_type, {"args": ["3"]}, owner="ada"))

    done = await run_until_done(run_worker, app, client, *jobs)

    assert [job.status for job in done] == [JobStatus.SUCCEEDED] * 4
    three = "".join(line + "\n" for line in expected_chatter(3))
    three = "stderr at 0\n" + three if three else three
    folder = output_folder()
    appended = (folder / "chatty-append.log").read_text()
    assert sorted(appended.splitlines()) == sorted((three * 2).splitlines())
    stamped = sorted(folder.glob("chatty-timestamped-*.log"))
    assert len(stamped) == 2
    assert {str(path) for path in stamped} == {job.result["output_file"] for job in done[1::2]}
    for path in stamped:
        assert sorted(path.read_text().splitlines()) == sorted(three.splitlines())


async def test_output_that_is_not_utf8_or_has_control_characters_is_kept_as_clean_text(
    apps: OpenApp, run_worker: RunWorker
) -> None:
    app, client = await apps()
    job = await client.queue_job("tests.cmd.raw_bytes", None, owner="ada")

    [done] = await run_until_done(run_worker, app, client, job)

    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.output is not None
    assert done.output.text == (
        "café au lait\nbad \ufffd\ufffd bytes\nred and a bell \ufffd\nno line end"
    )


@pytest.mark.parametrize(
    ("codes", "status", "attempts", "exit_code"),
    [
        (["75", "0"], JobStatus.SUCCEEDED, 2, 0),  # retry, then success
        (["1"], JobStatus.SUCCEEDED, 1, 1),  # a code mapped to success
        (["2"], JobStatus.FAILED, 1, None),  # a code mapped to permanent failure
        (["3"], JobStatus.FAILED, 3, None),  # any other code: retried until attempts end
    ],
    ids=["retry-then-0", "success-1", "permanent-2", "other-3"],
)
async def test_exit_codes_count_as_the_command_maps_them(
    apps: OpenApp,
    run_worker: RunWorker,
    codes: list[str],
    status: JobStatus,
    attempts: int,
    exit_code: int | None,
) -> None:
    app, client = await apps()
    job = await client.queue_job("tests.cmd.exits", {"args": codes}, owner="ada")

    [done] = await run_until_done(run_worker, app, client, job)

    assert done.status is status
    history = await client.list_attempts(job.id)
    assert len(history) == attempts
    if exit_code is not None:
        assert done.result["exit_code"] == exit_code
    else:
        assert done.error is not None
        assert f"exited with code {codes[-1]}" in done.error.message
        permanent = codes[-1] == "2"
        assert done.error.type.endswith(
            "CommandFailedPermanently" if permanent else "CommandFailed"
        )
    failed = [a.error.message if a.error else "" for a in history[: attempts - 1]]
    assert [("exited with code" in message) for message in failed] == [True] * (attempts - 1)


async def test_a_time_out_stops_the_whole_process_tree_and_says_how(
    apps: OpenApp, run_worker: RunWorker, tmp_path: Path
) -> None:
    app, client = await apps()
    pids_file = tmp_path / "pids"
    job = await client.queue_job(
        "tests.cmd.tree",
        {"env": {"QJ_PIDS": str(pids_file)}},
        owner="ada",
        max_run_time=timedelta(seconds=2),
    )

    [done] = await run_until_done(run_worker, app, client, job)

    pids = pids_in(pids_file)
    assert len(pids) == 3
    assert [pid for pid in pids if alive(pid)] == []
    assert done.status is JobStatus.FAILED
    [attempt] = await client.list_attempts(job.id)
    assert attempt.outcome is AttemptOutcome.TIMED_OUT
    assert done.error is not None
    assert done.error.type.endswith("JobTimedOut")
    # the grandchild ignores SIGTERM: the group got SIGKILL after kill_after
    assert "sent SIGTERM, then SIGKILL 1 s later" in done.error.message
    assert "ended by signal SIGTERM" in done.error.message  # the program itself
    name = f"commands/tests.cmd.tree/{job.id}/attempt-1.log"
    assert b"all started" in await output_store(app).read(name)


async def test_cancelling_a_running_program_stops_its_whole_process_tree(
    apps: OpenApp, run_worker: RunWorker, tmp_path: Path
) -> None:
    app, client = await apps()
    pids_file = tmp_path / "pids"
    job = await client.queue_job(
        "tests.cmd.tree", {"env": {"QJ_PIDS": str(pids_file)}}, owner="ada"
    )
    pids: list[int] = []

    async def cancelled_once_running() -> bool:
        if not pids and pids_file.exists():
            pids.extend(pids_in(pids_file))
            await client.cancel(job.id)
        return await finished(client, job.id)

    await run_worker(app, cancelled_once_running, limit=60)

    done = await client.get_job(job.id)
    assert len(pids) == 3
    assert [pid for pid in pids if alive(pid)] == []
    assert done.status is JobStatus.CANCELLED
    [attempt] = await client.list_attempts(job.id)
    assert attempt.outcome is AttemptOutcome.CANCELLED
    assert done.error is not None
    assert attempt.error == done.error
    assert done.error.message.startswith("the job was cancelled while its program ran")
    assert "SIGKILL 1 s later" in done.error.message


async def test_a_job_aware_program_reports_progress_while_it_runs_and_sets_the_result(
    apps: OpenApp, run_worker: RunWorker, tmp_path: Path
) -> None:
    app, client = await apps()
    go = tmp_path / "go"
    job = await client.queue_job("tests.cmd.aware", {"input": {"go": str(go)}}, owner="ada")
    seen: list[QueuedJob] = []

    async def released_once_reported() -> bool:
        now = await client.get_job(job.id)
        if not seen and now.progress is not None:
            seen.append(now)
            go.touch()
        return now.is_terminal

    await run_worker(app, released_once_reported, limit=60)

    [running] = seen
    assert running.status is JobStatus.RUNNING
    assert running.progress is not None
    assert (running.progress.percent, running.progress.message) == (40.0, "copying files")
    done = await client.get_job(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.result["result"] == {"copied": 12}
    assert done.output is not None
    assert done.output.text == "copying\n"  # no directive lines


async def test_a_worker_process_told_to_stop_stops_its_programs_and_hands_their_jobs_back(
    backend: Backend, apps: OpenApp, tmp_path: Path
) -> None:
    _, client = await apps()
    pids_file = tmp_path / "pids"
    job = await client.queue_job(
        "tests.cmd.tree", {"env": {"QJ_PIDS": str(pids_file)}}, owner="ada"
    )
    worker = backend.spawn_worker(grace=0.5)
    try:
        await until(pids_file.exists, "the program to start its tree", within=60)
        worker.terminate()
        # kill_after (1 s) and the output stored: well within the worker's bound
        assert worker.wait(timeout=60) == 0, backend.worker_log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    pids = pids_in(pids_file)
    assert [pid for pid in pids if alive(pid)] == []
    handed_back = await client.get_job(job.id)
    assert (handed_back.status, handed_back.lease_owner) == (JobStatus.QUEUED, None)
    [attempt] = await client.list_attempts(job.id)
    assert attempt.outcome is AttemptOutcome.RELEASED


async def test_a_command_that_runs_one_at_a_time_refuses_a_second_job_while_one_runs(
    apps: OpenApp, run_worker: RunWorker, tmp_path: Path
) -> None:
    app, client = await apps()
    go = tmp_path / "go"
    first = await client.queue_job("tests.cmd.exclusive", {"input": {"go": str(go)}}, owner="ada")
    second: list[QueuedJob] = []

    async def second_refused_while_first_runs() -> bool:
        now = await client.get_job(first.id)
        if not second and now.progress is not None:  # the first program is running
            second.append(
                await client.queue_job(
                    "tests.cmd.exclusive", {"input": {"go": str(go)}}, owner="bob"
                )
            )
        if second and (await client.get_job(second[0].id)).is_terminal:
            go.touch()
        return now.is_terminal

    await run_worker(app, second_refused_while_first_runs, limit=60)

    done, refused = await client.get_job(first.id), await client.get_job(second[0].id)
    assert done.status is JobStatus.SUCCEEDED
    assert refused.status is JobStatus.FAILED
    assert refused.error is not None
    assert refused.error.type.endswith("JobAlreadyRunning")
    assert first.id in refused.error.message
