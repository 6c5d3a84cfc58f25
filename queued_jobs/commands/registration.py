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
from enum import StrEnum
from functools import partial
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
)

from ..errors import ConfigurationError
from ..files.base import MAX_LINK_LIFETIME, FileStore
from ..retry import RetryPolicy
from ..runner import AlreadyRunning, JobDefinition
from .result import CommandResult

__all__ = [
    "DEFAULT_INHERITED",
    "INHERIT_ALL",
    "MAX_ARGUMENT",
    "Command",
    "CommandRequest",
    "ExitCodes",
    "FileMode",
    "LocalFile",
    "Output",
]

#: The worker's environment variables a program gets by default: what programs need to
#: run (the search path, the home folder, the locale, the time zone), never the worker's
#: settings and secrets (its storage connection string). ``inherit_env`` names others.
DEFAULT_INHERITED: Final = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER"}
    | {"LOGNAME", "PYTHONPATH", "VIRTUAL_ENV"}
)
#: ``inherit_env=INHERIT_ALL``: the program gets the worker's whole environment.
INHERIT_ALL: Final = "all"
#: The most characters of one argument a request may give.
MAX_ARGUMENT: Final = 32 * 1024
_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_PREFIX: Final = "QUEUED_JOBS_"


class FileMode(StrEnum):
    """How output goes to a local file (:class:`LocalFile`)."""

    #: Each attempt replaces the file.
    OVERWRITE = "overwrite"
    #: Each attempt adds to the end of the file.
    APPEND = "append"
    #: Each attempt writes a new file, its name given the attempt's start time
    #: (``export.log`` → ``export-20261202T040102.345Z.log``).
    TIMESTAMPED = "timestamped"


@dataclass(frozen=True, slots=True)
class LocalFile:
    """Output written to a file on the worker's machine as it arrives. ``path`` may name
    ``{job_id}``, ``{job_type}`` and ``{attempt}``; its folders are made if missing."""

    path: str
    mode: FileMode = FileMode.OVERWRITE

    def __post_init__(self) -> None:
        try:
            self.path.format(job_id="j", job_type="t", attempt=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(
                f"output file {self.path!r}: only {{job_id}}, {{job_type}} and {{attempt}} "
                f"may be named in it ({exc})"
            ) from None


@dataclass(frozen=True, slots=True)
class Output:
    """What of a program's output is kept, and where.

    ``stdout``/``stderr``: which streams are captured (a stream not captured is
    discarded); both go, line by line as they arrive, to every destination:

    - ``record``: the job's record keeps the end of it (``QueuedJob.output``), readable
      while the program runs;
    - ``store``: a file store (``app.files("command-output")``) gets the whole output of
      each attempt, as ``commands/<job type>/<job id>/attempt-<n>.log``, linked from the
      job's result (a link valid for ``link_valid_for``);
    - ``file``: a file on the worker's machine (:class:`LocalFile`).
    """

    stdout: bool = True
    stderr: bool = True
    record: bool = True
    store: FileStore | None = None
    file: LocalFile | None = None
    link_valid_for: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        if not timedelta(0) < self.link_valid_for <= MAX_LINK_LIFETIME:
            raise ConfigurationError(
                f"output links are valid for up to {MAX_LINK_LIFETIME.days} days, not "
                f"{self.link_valid_for}"
            )


@dataclass(frozen=True, slots=True)
class ExitCodes:
    """How a program's exit code counts. A code in none of the sets counts as
    ``otherwise`` says: a failure that is retried (``"retry"``) or a final one
    (``"fail"``). A program ended by a signal it was not sent by us (a crash, the kernel's
    out-of-memory killer) is a failure that is retried."""

    success: frozenset[int] = frozenset({0})
    retry: frozenset[int] = frozenset()
    permanent: frozenset[int] = frozenset()
    otherwise: Literal["retry", "fail"] = "retry"

    def __post_init__(self) -> None:
        for name in ("success", "retry", "permanent"):
            codes = frozenset(getattr(self, name))
            object.__setattr__(self, name, codes)
            if not all(isinstance(code, int) and 0 <= code <= 255 for code in codes):
                raise ConfigurationError(f"exit codes ({name}) are integers 0 to 255")
        if (
            (self.success & self.retry)
            or (self.success & self.permanent)
            or (self.retry & self.permanent)
        ):
            raise ConfigurationError("an exit code can count only one way")
        if self.otherwise not in ("retry", "fail"):
            raise ConfigurationError('ExitCodes.otherwise is "retry" or "fail"')

    def counts_as(self, code: int) -> Literal["success", "retry", "fail"]:
        if code in self.success:
            return "success"
        if code in self.retry:
            return "retry"
        if code in self.permanent:
            return "fail"
        return self.otherwise


def _text_of(what: str) -> AfterValidator:
    """A value a program gets (an argument, an environment value): no NUL, bounded."""

    def check(value: str) -> str:
        if "\x00" in value:
            raise ValueError(f"{what} must not contain a NUL character")
        if len(value) > MAX_ARGUMENT:
            raise ValueError(f"{what} is at most {MAX_ARGUMENT:,} characters")
        return value

    return AfterValidator(check)


class CommandRequest(BaseModel):
    """What a request to a command job may give: arguments added after the registered
    ones, environment variables, and JSON for a job-aware program (it reads the whole
    request on its standard input). What the registration allows is checked when the job
    is queued, and again when it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    args: list[Annotated[str, _text_of("an argument")]] = Field(default_factory=list)
    env: dict[str, Annotated[str, _text_of("an environment value")]] = Field(default_factory=dict)
    input: JsonValue = None


def _none_is_empty(given: object) -> object:
    """No request at all: the command as registered."""
    return {} if given is None else given


def _allowed_by(command: Command) -> AfterValidator:
    def check(request: CommandRequest) -> CommandRequest:
        if request.args and not command.allow_args:
            raise ValueError(
                f"command {command.job_type!r} takes no arguments from a request "
                "(its registration does not allow_args)"
            )
        if len(request.args) > command.max_args:
            raise ValueError(
                f"command {command.job_type!r} takes at most {command.max_args} arguments "
                f"from a request, not {len(request.args)}"
            )
        refused = sorted(name for name in request.env if name not in command.allow_env)
        if refused:
            allowed = ", ".join(sorted(command.allow_env)) or "none"
            raise ValueError(
                f"command {command.job_type!r} does not let a request set "
                f"{', '.join(refused)[:200]} (allowed: {allowed})"
            )
        return request

    return AfterValidator(check)


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
        from .runner import CommandRunner

        return JobDefinition(
            job_type=self.job_type,
            make_runner=partial(CommandRunner, self),
            request=TypeAdapter(
                Annotated[CommandRequest, BeforeValidator(_none_is_empty), _allowed_by(self)]
            ),
            result=TypeAdapter(CommandResult),
            max_attempts=self.max_attempts,
            max_run_time=self.max_run_time,
            retry=self.retry,
            stop_grace=self.kill_after + _AFTER_KILL,
            already_running=self.already_running,
        )


#: Past ``kill_after``: time for the killed program to go, its output to be read and
#: stored, and the attempt to say what happened.
_AFTER_KILL: Final = timedelta(seconds=15)
