"""What a job printed, as its record keeps it (:class:`JobOutput`): the end of the text.

A job that runs a program (``queued_jobs.commands``), or any job that calls
``context.append_output``, has its output kept on its record while it runs, so that it is
readable at once (``queued-jobs logs JOB --follow``, ``GET /jobs/{id}/output``, the event
stream). The record keeps the last :data:`OUTPUT_TAIL_LIMIT` characters: earlier text is
dropped, whole lines first, and a cut never falls inside a character. ``length`` counts
every character printed, so a reader that saw ``length`` before knows what is new.

Output is kept as clean text (:func:`clean_output`): invalid UTF-8 and control characters
other than line breaks and tabs become U+FFFD, terminal escape sequences are removed, and
carriage returns end lines. It can be shown anywhere (a terminal, a page) without effect.
A record holds nothing else: text that reaches :class:`JobOutput` another way has its
control characters made U+FFFD, one for one (lone surrogates are refused), so that its JSON
stays at most twice its length (a tab, a line end, a quote or a backslash is two).

A reader asks for what was printed after the ``after`` characters it has seen
(:func:`read_output`, ``JobClient.read_output``): the text the record still holds of it,
and how many characters of it it no longer holds (``skipped``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import InvalidInput
from .status import JobStatus

__all__ = [
    "MAX_OUTPUT_POSITION",
    "OUTPUT_TAIL_LIMIT",
    "JobOutput",
    "OutputRead",
    "check_output_position",
    "clean_output",
    "output_tail",
    "read_output",
]

#: The most characters of output a job's record keeps (the end of it).
OUTPUT_TAIL_LIMIT: Final = 8_000
#: Terminal escape sequences (colours, cursor moves, titles): removed from output.
_ESCAPES: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, links
    r"|\x1b[@-Z\\-_]"  # two-character escapes
)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES: Final = re.compile(r"[\ud800-\udfff]")
_REPLACEMENT: Final = "\ufffd"
#: The largest ``after`` a reader may give: a count of characters a job could print, and
#: an integer a JavaScript number holds exactly (2^53 - 1).
MAX_OUTPUT_POSITION: Final = 2**53 - 1


def clean_output(text: str) -> str:
    """``text`` as output is kept: escape sequences removed, ``\\r\\n`` and a lone ``\\r``
    made line ends, other control characters (and lone surrogates) made U+FFFD."""
    if "\x1b" in text:
        text = _ESCAPES.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(_REPLACEMENT, text)
    if not text.isascii():
        text = _SURROGATES.sub(_REPLACEMENT, text)
    return text


def output_tail(text: str, limit: int = OUTPUT_TAIL_LIMIT) -> str:
    """The end of ``text`` in at most ``limit`` characters: from the start of a line where
    one begins in the last ``limit`` characters, else from a character boundary."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    tail = text[-limit:]
    if text[-limit - 1] == "\n":  # the tail begins a line already
        return tail
    start = tail.find("\n")
    if 0 <= start < len(tail) - 1:
        return tail[start + 1 :]
    return tail


class JobOutput(BaseModel):
    """The end of a job's output, as its record keeps it while it runs and after."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The last characters printed (at most :data:`OUTPUT_TAIL_LIMIT`), as clean text.
    text: str = Field(default="", max_length=OUTPUT_TAIL_LIMIT)
    #: How many characters were printed in all; ``text`` is the end of them.
    length: int = Field(default=0, ge=0)
    #: How many characters at the end of ``text`` the write that stored this added (what
    #: the change it recorded carries); 0 for a write that added none.
    new: int = Field(default=0, ge=0)

    @field_validator("text")
    @classmethod
    def _clean(cls, text: str) -> str:
        """Control characters made U+FFFD, one for one (so lengths hold): what keeps a
        record's JSON at most twice as long as its text."""
        return _CONTROL.sub(_REPLACEMENT, text) if _CONTROL.search(text) else text

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.text) > self.length or self.new > len(self.text):
            raise ValueError("output: text longer than length, or more new than text")
        return self

    def appended(self, text: str, printed: int | None = None) -> JobOutput:
        """This output with ``text`` (clean already) printed after it: the end of
        ``printed`` characters (default ``len(text)``) when more were printed than held.
        Then what this output holds is not followed by ``text`` but by what was dropped
        between them, so only ``text`` is kept."""
        printed = len(text) if printed is None else max(printed, len(text))
        if not printed:
            return self.model_copy(update={"new": 0}) if self.new else self
        kept = output_tail(self.text + text if printed == len(text) else text)
        return JobOutput(text=kept, length=self.length + printed, new=min(len(text), len(kept)))

    @property
    def new_text(self) -> str:
        """The text the write that stored this added."""
        return self.text[len(self.text) - self.new :] if self.new else ""

    def since(self, length: int) -> tuple[int, str]:
        """What was printed after the first ``length`` characters: how many characters of
        it the record no longer holds (0 when it holds all), and the text it holds."""
        length = max(length, 0)
        if length >= self.length:
            return 0, ""
        wanted = self.length - length
        held = min(wanted, len(self.text))
        return wanted - held, self.text[len(self.text) - held :]


@dataclass(frozen=True, slots=True)
class OutputRead:
    """What a reader gets of a job's output: what was printed after the ``after``
    characters it asked for, as far as the record still holds it."""

    job_id: str
    #: The job's status when it was read.
    status: JobStatus
    #: What was printed after ``after`` characters that the record holds (the end of it).
    text: str
    #: How many characters the job printed in all: the ``after`` of the next read.
    length: int
    #: How many characters printed after ``after`` (before ``text``) the record no longer
    #: holds: it keeps the last :data:`OUTPUT_TAIL_LIMIT`.
    skipped: int

    @property
    def complete(self) -> bool:
        """The job has finished: its output is all there, and nothing more comes."""
        return self.status.is_terminal


def check_output_position(after: object) -> int:
    """``after`` if it is a count of characters a reader may give (0 to
    :data:`MAX_OUTPUT_POSITION`), else ``InvalidInput``."""
    if isinstance(after, bool) or not isinstance(after, int):
        raise InvalidInput(f"a position in a job's output is a whole number, not {after!r:.40}")
    if not 0 <= after <= MAX_OUTPUT_POSITION:
        raise InvalidInput(
            f"a position in a job's output is from 0 to {MAX_OUTPUT_POSITION}, not {after}"
        )
    return after


def read_output(
    job_id: str, status: JobStatus, output: JobOutput | None, after: int = 0
) -> OutputRead:
    """What a job (``job_id`` in ``status``, whose record holds ``output``) printed after
    ``after`` characters; ``InvalidInput`` for an ``after`` no reader may give."""
    check_output_position(after)
    found = output or JobOutput()
    skipped, text = found.since(after)
    return OutputRead(job_id, status, text, found.length, skipped)
