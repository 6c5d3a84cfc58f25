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
"""

from __future__ import annotations

import re
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["OUTPUT_TAIL_LIMIT", "JobOutput", "clean_output", "output_tail"]

#: The most characters of output a job's record keeps (the end of it).
OUTPUT_TAIL_LIMIT: Final = 8_000
#: Terminal escape sequences (colours, cursor moves, titles): removed from output.
_ESCAPES: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, links
    r"|\x1b[@-Z\\-_]"  # two-character escapes
)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_REPLACEMENT: Final = "\ufffd"


def clean_output(text: str) -> str:
    """``text`` as output is kept: escape sequences removed, ``\\r\\n`` and a lone ``\\r``
    made line ends, other control characters (and lone surrogates) made U+FFFD."""
    if "\x1b" in text:
        text = _ESCAPES.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(_REPLACEMENT, text)
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates: '?'
    return text


def output_tail(text: str, limit: int = OUTPUT_TAIL_LIMIT) -> str:
    """The end of ``text`` in at most ``limit`` characters: from the start of a line where
    one begins in the last ``limit`` characters, else from a character boundary."""
    if len(text) <= limit:
        return text
    tail = text[-limit:]
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

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.text) > self.length or self.new > len(self.text):
            raise ValueError("output: text longer than length, or more new than text")
        return self

    def appended(self, text: str, printed: int | None = None) -> JobOutput:
        """This output with ``text`` (clean already) printed after it: the end of
        ``printed`` characters (default ``len(text)``) when more were printed than held."""
        printed = len(text) if printed is None else max(printed, len(text))
        if not printed:
            return self.model_copy(update={"new": 0}) if self.new else self
        kept = output_tail(self.text + text)
        return JobOutput(text=kept, length=self.length + printed, new=min(len(text), len(kept)))

    @property
    def new_text(self) -> str:
        """The text the write that stored this added."""
        return self.text[len(self.text) - self.new :] if self.new else ""

    def since(self, length: int) -> tuple[int, str]:
        """What was printed after the first ``length`` characters: how many characters of
        it the record no longer holds (0 when it holds all), and the text it holds."""
        if length >= self.length:
            return 0, ""
        wanted = self.length - length
        held = min(wanted, len(self.text))
        return wanted - held, self.text[len(self.text) - held :]
