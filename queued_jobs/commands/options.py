"""What a command registration says of a program's output and its exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from ..errors import ConfigurationError
from ..files.base import MAX_LINK_LIFETIME, FileStore

__all__ = ["ExitCodes", "FileMode", "LocalFile", "Output"]


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

    ``max_bytes`` bounds what one attempt writes to the store and to the file (1 GiB by
    default): past it, a line says the rest is not kept there, and the record still keeps
    the end. A program that prints without end cannot fill the disk.
    """

    stdout: bool = True
    stderr: bool = True
    record: bool = True
    store: FileStore | None = None
    file: LocalFile | None = None
    link_valid_for: timedelta = timedelta(days=3)
    max_bytes: int = 1024**3

    def __post_init__(self) -> None:
        if self.max_bytes < 1024:
            raise ConfigurationError(f"output max_bytes is at least 1,024, not {self.max_bytes}")
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
