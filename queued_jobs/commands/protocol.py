"""The line protocol a job-aware program speaks on its standard output.

A line that starts with ``::`` and names a directive tells the job something; it is not
output. Every other line (an unknown directive too) is output, as it is::

    ::progress 40 copying files      progress: 40 %, with a message (the message optional)
    ::progress 12.5%                 a percent sign may follow the number
    ::result {"rows": 1200}          the job's result: any JSON value on one line

The last ``::result`` wins; it is the job's result only if the program then succeeds.
A directive that cannot be read (a percent outside 0-100, a result that is not JSON) is
kept as output, and the job's log says why. Any language can speak it: print the line
and flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import JsonValue
from pydantic_core import from_json

from ..models.nesting import check_payload

__all__ = ["MAX_DIRECTIVE", "PREFIX", "Progress", "Result", "parse_directive"]

#: What a directive line starts with.
PREFIX: Final = "::"
#: The longest directive line read (a result of more is output, not a result).
MAX_DIRECTIVE: Final = 1024 * 1024
_MESSAGE: Final = 1024


@dataclass(frozen=True, slots=True)
class Progress:
    percent: float
    message: str | None


@dataclass(frozen=True, slots=True)
class Result:
    value: JsonValue


class Unreadable(ValueError):
    """A directive line that names a directive but cannot be read."""


def parse_directive(line: str) -> Progress | Result | None:
    """The directive ``line`` holds; ``None`` for a line that holds none (output).
    Raises :class:`Unreadable` for a directive that cannot be read."""
    if not line.startswith(PREFIX):
        return None
    name, _, rest = line[len(PREFIX) :].partition(" ")
    if name == "progress":
        return _progress(rest.strip())
    if name == "result":
        return _result(rest.strip())
    return None


def _progress(text: str) -> Progress:
    number, _, said = text.partition(" ")
    try:
        percent = float(number.removesuffix("%"))
    except ValueError:
        raise Unreadable(f"::progress needs a percent first, not {number[:40]!r}") from None
    if not 0 <= percent <= 100:  # NaN too
        raise Unreadable(f"::progress {number[:40]}: the percent is 0 to 100")
    return Progress(percent, said.strip()[:_MESSAGE] or None)


def _result(text: str) -> Result:
    if not text:
        raise Unreadable("::result needs a JSON value")
    try:
        value = from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        raise Unreadable(f"::result is not JSON: {str(exc)[:200]}") from None
    try:
        check_payload(value, "the ::result value")
    except ValueError as exc:  # too deep, integers too long
        raise Unreadable(str(exc)) from None
    return Result(value)
