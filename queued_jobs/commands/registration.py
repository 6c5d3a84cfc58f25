"""A command: a program an application registers as a job type, and what a request may
change of it.

The registration says everything about the program: its path, its fixed arguments, its
working directory, its environment, its max run time, how its exit codes count and where
its output goes. A request (:class:`CommandRequest`) may only add arguments (when
``allow_args``), set the environment variables named in ``allow_env``, and hand a
job-aware program some JSON (``input``). Arguments always travel as a list, straight to
``exec``: no shell ever reads them, unless the registration asks for one (``shell=True``),
and even then they reach the script as its positional parameters (``"$1"``...), never as
text to parse.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Final, Literal

from pydantic import TypeAdapter, model_validator

from ..errors import ConfigurationError
from ..limits.definitions import Limit
from ..retry import RetryPolicy
from ..runner import AlreadyRunning, JobDefinition
from .options import ExitCodes, Output
from .request import DEFAULT_INHERITED, INHERIT_ALL, CommandRequest
from .result import CommandResult
from .runner import CommandRunner

__all__ = ["Command"]

_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_PREFIX: Final = "QUEUED_JOBS_"


def _refusal(command: Command, request: CommandRequest) -> str | None:
    """Why ``request`` asks more of ``command`` than its registration allows, if it does."""
    if request.args and not command.allow_args:
        return (
            f"command {command.job_type!r} takes no arguments from a request (its "
            "registration does not allow_args)"
        )
    if len(request.args) > command.max_args:
        return (
            f"command {command.job_type!r} takes at most {command.max_args} arguments from "
            f"a request, not {len(request.args)}"
        )
    refused = sorted(name for name in request.env if name not in command.allow_env)
    if refused:
        allowed = ", ".join(sorted(command.allow_env)) or "none"
        return (
            f"command {command.job_type!r} does not let a request set "
            f"{', '.join(refused)[:200]} (allowed: {allowed})"
        )
    return None


def _request_of(command: Command) -> type[CommandRequest]:
    """The request model of one command: a ``CommandRequest`` that also holds to what the
    registration allows (its errors then name ``CommandRequest``)."""

    def allowed(request: CommandRequest) -> CommandRequest:
        problem = _refusal(command, request)
        if problem is not None:
            raise ValueError(problem)
        return request

    namespace = {
        "__module__": CommandRequest.__module__,
        "__qualname__": CommandRequest.__qualname__,
        "_allowed": model_validator(mode="after")(allowed),
    }
    return type(CommandRequest.__name__, (CommandRequest,), namespace)


@dataclass(frozen=True, kw_only=True)
class Command:
    """A program registered as a job type: ``registry.add(Command(...))``.

    ``program`` is a path, or a name looked up on the program's ``PATH``; with
    ``shell=True`` it is a script for ``/bin/sh -c`` instead, which gets the arguments as
    ``"$1"``, ``"$2"``... ``args`` come first, then a request's (``allow_args``).

    ``env`` is set for every run; the worker's own environment is passed on only for the
    names in ``inherit_env`` (:data:`DEFAULT_INHERITED`; :data:`INHERIT_ALL` for all);
    a request may set the names in ``allow_env``. Every run also gets
    ``QUEUED_JOBS_JOB_ID``, ``QUEUED_JOBS_JOB_TYPE`` and ``QUEUED_JOBS_ATTEMPT``.

    ``max_run_time``: the program is stopped past it. Stopped (time-out, cancellation, the
    worker shutting down), the program's whole process group gets ``SIGTERM``, and
    ``SIGKILL`` ``kill_after`` later if any of it is still there; when the program exits,
    whatever it left running in its group is stopped the same way.

    ``job_aware``: the program reads the request as JSON on its standard input and may
    report back on its standard output (``::progress 40 copying``, ``::result {...}``;
    see :mod:`queued_jobs.commands.program`).
    """

    job_type: str
    program: str
    args: Sequence[str] = ()
    shell: bool = False
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    inherit_env: Collection[str] | Literal["all"] = DEFAULT_INHERITED
    allow_args: bool = False
    max_args: int = 64
    allow_env: Collection[str] = frozenset()
    max_run_time: timedelta | None = None
    kill_after: timedelta = timedelta(seconds=5)
    max_attempts: int | None = None
    retry: RetryPolicy | None = None
    exit_codes: ExitCodes = field(default_factory=ExitCodes)
    output: Output = field(default_factory=Output)
    job_aware: bool = False
    already_running: AlreadyRunning = AlreadyRunning.ALLOW
    #: The concurrency and rate limits its jobs pass (``queued_jobs.limits``).
    limits: Sequence[Limit] = ()

    def __post_init__(self) -> None:
        if not self.program or "\x00" in self.program:
            raise ConfigurationError(f"command {self.job_type!r}: give a program")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "allow_env", frozenset(self.allow_env))
        if self.inherit_env != INHERIT_ALL:
            object.__setattr__(self, "inherit_env", frozenset(self.inherit_env))
        for value in (*self.args, *self.env.values()):
            if "\x00" in value:
                raise ConfigurationError(
                    f"command {self.job_type!r}: arguments and environment values must not "
                    "contain NUL characters"
                )
        for name in (*self.env, *self.allow_env):
            if not _ENV_NAME.match(name) or name.startswith(_RESERVED_PREFIX):
                raise ConfigurationError(
                    f"command {self.job_type!r}: {name!r} is not an environment variable a "
                    f"command may set (letters, digits, '_'; not {_RESERVED_PREFIX}...)"
                )
        if not 0 <= self.max_args <= 4096:
            raise ConfigurationError(f"command {self.job_type!r}: max_args is 0 to 4096")
        if self.kill_after <= timedelta(0):
            raise ConfigurationError(f"command {self.job_type!r}: kill_after must be positive")
        if self.max_run_time is not None and self.max_run_time <= timedelta(0):
            raise ConfigurationError(f"command {self.job_type!r}: max_run_time must be positive")

    def definition(self) -> JobDefinition:
        """The job type this command registers (:meth:`JobRegistry.add`)."""
        return JobDefinition(
            job_type=self.job_type,
            make_runner=partial(CommandRunner, self),
            request=TypeAdapter(_request_of(self)),
            result=TypeAdapter(CommandResult),
            max_attempts=self.max_attempts,
            max_run_time=self.max_run_time,
            retry=self.retry,
            stop_grace=self.kill_after + _AFTER_KILL,
            already_running=self.already_running,
            limits=tuple(self.limits),
        )


#: Past ``kill_after``: time for the killed program to go, its output to be read and
#: stored, and the attempt to say what happened.
_AFTER_KILL: Final = timedelta(seconds=15)
