"""Running one attempt of a command job: start the program, stream its output, and say
how it ended.

The attempt ends when the program exits; whatever it left running in its process group
is then stopped. Told to stop (cancelled, past its max run time, its worker shutting
down, its job taken over), the attempt stops the program's whole group (``SIGTERM``, then
``SIGKILL`` after ``kill_after``) and records what happened: a time-out or a cancellation
says what was sent and how the program ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from pydantic_core import to_json

from ..clock import utcnow
from ..context import JobContext, StopReason
from ..errors import (
    CommandFailed,
    CommandFailedPermanently,
    JobCancelled,
    JobTimedOut,
    PermanentError,
    QueuedJobsError,
)
from ..files.base import FileStore, StoredFile
from ..runner import JobRunner
from .capture import Capture, LocalFileSink, RecordSink, Sink, SpoolSink, pump
from .process import GroupStop, group_alive, signal_name, stop_group
from .protocol import Progress
from .request import INHERIT_ALL, CommandRequest
from .result import CommandResult, StoredOutput

if TYPE_CHECKING:
    from .registration import Command

__all__ = ["CommandRunner"]

#: How long the output of an exited program is read for, once its group is gone (a
#: process that left the group may hold the pipes open).
_DRAIN: Final = 5.0
_SHELL: Final = "/bin/sh"


class CommandRunner(JobRunner[CommandRequest, CommandResult]):
    """The runner of every command job: one instance per attempt."""

    def __init__(self, command: Command) -> None:
        self.command = command

    async def on_execute(self, request: CommandRequest, context: JobContext) -> CommandResult:
        command = self.command
        argv = _argv(command, request)
        env = _environment(command, request, context)
        cwd = _folder(command)
        capture, spool, local = _capture(command, context)
        stored: StoredOutput | None = None
        try:
            process = await _start(argv, env, cwd, command)
            try:
                code = await _Run(command, process, capture, context, request).until_exit()
            finally:  # stopped too: what it printed is kept
                if spool is not None:
                    stored = await _store(command, spool, context)
            return _result(command, code, capture, stored, local)
        finally:
            await capture.close()


def _folder(command: Command) -> str | None:
    cwd = command.cwd
    if cwd is not None and not os.path.isdir(cwd):
        raise PermanentError(f"command {command.job_type!r}: no folder {cwd!r} to run in")
    return cwd


def _argv(command: Command, request: CommandRequest) -> list[str]:
    extra = [*command.args, *request.args]
    if command.shell:  # the script gets the arguments as "$1"...: never as text to read
        return [_SHELL, "-c", command.program, command.job_type, *extra]
    return [command.program, *extra]


def _environment(command: Command, request: CommandRequest, context: JobContext) -> dict[str, str]:
    inherited: Mapping[str, str] = os.environ
    if command.inherit_env != INHERIT_ALL:
        inherited = {k: v for k, v in os.environ.items() if k in command.inherit_env}
    job = context.job
    return {
        **inherited,
        **command.env,
        **request.env,
        "QUEUED_JOBS_JOB_ID": job.id,
        "QUEUED_JOBS_JOB_TYPE": job.job_type,
        "QUEUED_JOBS_ATTEMPT": str(context.attempt),
        **({"QUEUED_JOBS_PROTOCOL": "1"} if command.job_aware else {}),
    }


def _capture(
    command: Command, context: JobContext
) -> tuple[Capture, SpoolSink | None, LocalFileSink | None]:
    output = command.output
    sinks: list[Sink] = []
    if output.record:
        sinks.append(RecordSink(context.append_output, attempt=context.attempt))
    spool = SpoolSink(output.max_bytes) if output.store is not None else None
    if spool is not None:
        sinks.append(spool)
    local = None
    if output.file is not None:
        try:
            local = LocalFileSink(
                output.file,
                job_id=context.job.id,
                job_type=context.job.job_type,
                attempt=context.attempt,
                started=utcnow(),
                max_bytes=output.max_bytes,
            )
        except OSError as exc:
            context.logger.warning("the output file cannot be written: %s", exc)
        else:
            sinks.append(local)

    async def progress(said: Progress) -> None:
        await context.report_progress(said.percent, said.message)

    return Capture(sinks, on_progress=progress, job_logger=context.logger), spool, local


async def _start(
    argv: list[str], env: dict[str, str], cwd: str | None, command: Command
) -> asyncio.subprocess.Process:
    program = argv[0]
    if "/" not in program:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        if found is None:
            raise PermanentError(
                f"command {command.job_type!r}: no program {program!r} on its PATH "
                f"({env.get('PATH', os.defpath)[:300]})"
            )
        argv = [found, *argv[1:]]
    output = command.output
    pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=pipe if command.job_aware else devnull,
            stdout=pipe if output.stdout or command.job_aware else devnull,
            stderr=pipe if output.stderr else devnull,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group: stopped whole
        )
    except OSError as exc:  # not there, not executable, not a program
        raise PermanentError(
            f"command {command.job_type!r}: {argv[0]!r} cannot be started: {exc}"
        ) from None
    return process


async def _hand_request(stdin: asyncio.StreamWriter, request: CommandRequest) -> None:
    """The request as JSON on the program's standard input, then its end. A program that
    does not read it, or exits first, loses nothing of ours."""
    with contextlib.suppress(OSError, RuntimeError):
        stdin.write(to_json(request.model_dump(mode="json")) + b"\n")
        await stdin.drain()
    with contextlib.suppress(OSError, RuntimeError):
        stdin.close()


class _Run:
    """One started program: its output read, its exit waited for, its group stopped."""

    def __init__(
        self,
        command: Command,
        process: asyncio.subprocess.Process,
        capture: Capture,
        context: JobContext,
        request: CommandRequest,
    ) -> None:
        self._command = command
        self._process = process
        self._context = context
        self._kill_after = command.kill_after.total_seconds()
        aware = command.job_aware
        self._readers = [
            asyncio.create_task(
                pump(stream, capture, directives=aware and stream is process.stdout)
            )
            for stream in (process.stdout, process.stderr)
            if stream is not None
        ]
        if process.stdin is not None:  # a job-aware program: the request on its input
            self._readers.append(asyncio.create_task(_hand_request(process.stdin, request)))

    async def until_exit(self) -> int:
        """The program's return code (negative: the signal that ended it)."""
        try:
            code = await self._process.wait()
        except asyncio.CancelledError:
            stopped = await stop_group(self._process.pid, kill_after=self._kill_after)
            code = await self._process.wait()
            await self._drain()
            raise self._stopped(stopped, code) from None
        if group_alive(self._process.pid):
            left = await stop_group(self._process.pid, kill_after=self._kill_after)
            self._context.logger.warning(
                "the program exited with processes of its group still running: %s",
                left.describe(self._kill_after),
            )
        await self._drain()
        return code

    async def _drain(self) -> None:
        """Read what is left of the output, and end the handing of the request (bounded: a
        process that left the group may keep the pipes open)."""
        _, late = await asyncio.wait(self._readers, timeout=_DRAIN)
        for reader in late:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def _stopped(self, stopped: GroupStop, code: int) -> BaseException:
        """What the attempt raises once the program was stopped: why, what was sent, how it
        ended. A halt or a takeover goes on as the cancellation it is."""
        reason = self._context.stop_reason
        told = stopped.describe(self._kill_after)
        ended = _how_it_ended(code)
        if reason is StopReason.TIMED_OUT:
            limit = self._context.job.max_run_time or self._command.max_run_time
            return JobTimedOut(
                f"the program ran past its max run time of {limit}: {told}; it {ended}"
            )
        if reason is StopReason.CANCELLED:
            return JobCancelled(f"the job was cancelled while its program ran: {told}; it {ended}")
        self._context.logger.info(
            "the program was stopped (%s): %s; it %s",
            reason.value if reason else "the attempt was stopped",
            told,
            ended,
        )
        return asyncio.CancelledError()


def _how_it_ended(code: int) -> str:
    if code < 0:
        return f"ended by signal {signal_name(-code)}"
    return f"exited with code {code}"


async def _store(command: Command, spool: SpoolSink, context: JobContext) -> StoredOutput | None:
    """The attempt's whole output into the command's file store; ``None`` (and a
    warning) if the store failed: the job's outcome stays the program's."""
    store = command.output.store
    assert store is not None
    job = context.job
    name = f"commands/{job.job_type}/{job.id}/attempt-{context.attempt}.log"
    try:
        try:
            stored = await _upload(store, name, spool)
        except QueuedJobsError:  # the container may be missing: made once, tried again
            await store.create()
            stored = await _upload(store, name, spool)
        link = await store.download_link(name, expires_in=command.output.link_valid_for)
    except (QueuedJobsError, OSError) as exc:
        context.logger.warning("the program's output could not be stored as %s: %s", name, exc)
        return None
    return StoredOutput(
        container=store.container,
        name=name,
        size=stored.size,
        url=link.url,
        expires_at=link.expires_at,
    )


async def _upload(store: FileStore, name: str, spool: SpoolSink) -> StoredFile:
    spool.file.seek(0)
    return await store.write(name, spool.file, content_type="text/plain; charset=utf-8")


def _result(
    command: Command,
    code: int,
    capture: Capture,
    stored: StoredOutput | None,
    local: LocalFileSink | None,
) -> CommandResult:
    where = f"; its whole output is {stored.container}/{stored.name}" if stored else ""
    last = f"; its last line: {capture.last_line}" if capture.last_line else ""
    if code < 0:
        raise CommandFailed(
            f"the program was {_how_it_ended(code)}{last}{where}", exit_code=None, signal=-code
        )
    counted = command.exit_codes.counts_as(code)
    if counted == "fail":
        raise CommandFailedPermanently(
            f"the program exited with code {code}, which its command counts as final{last}{where}",
            exit_code=code,
            signal=None,
        )
    if counted == "retry":
        raise CommandFailed(
            f"the program exited with code {code}{last}{where}", exit_code=code, signal=None
        )
    return CommandResult(
        exit_code=code,
        result=capture.result.value if capture.result is not None else None,
        output_length=capture.length,
        output=stored,
        output_file=str(local.path) if local is not None else None,
    )
