"""Field checks that the stored records beside jobs share (schedules, sequences): ids of
the form of a job id, human text, and one clear sentence from a validation error."""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, ValidationError

from .job import is_job_id

__all__ = ["JobId", "first_problem", "plain_text", "record_id"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The same but for tabs and line breaks (a recurrence rule's canonical text has lines).
_CONTROL_BUT_LINES: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def record_id(kind: str, made_by: str) -> AfterValidator:
    """An id of the form of a job id (29 lowercase hex digits) for a ``kind`` record;
    the refusal says ids are made with ``made_by``."""

    def check(value: str) -> str:
        if not is_job_id(value):
            raise ValueError(
                f"{value!r:.80} is not a {kind} id (29 lowercase hex digits); make ids with "
                f"{made_by}"
            )
        return value

    return AfterValidator(check)


#: The id of a job another record names.
JobId = Annotated[str, record_id("job", "new_job_id(owner)")]


def plain_text(what: str, limit: int, *, lines: bool = False) -> AfterValidator:
    """Text of 1 to ``limit`` characters, valid Unicode, without control characters (but
    line breaks and tabs with ``lines``)."""
    control = _CONTROL_BUT_LINES if lines else _CONTROL
    refused = "control characters" if lines else "control characters (line breaks, tabs)"

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"{what} must not be empty or blank")
        if len(value) > limit:
            raise ValueError(f"{what} is {len(value):,} characters; at most {limit:,} allowed")
        if control.search(value):
            raise ValueError(f"{what} must not contain {refused}")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"{what} is not valid Unicode text: it holds a lone surrogate at position "
                    f"{exc.start}"
                ) from None
        return value

    return AfterValidator(check)


def first_problem(exc: ValidationError, what: str) -> str:
    """``exc`` as one sentence: ``what``, its first problem and how many more."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    sentence = f"{what}: {where}: {message}" if where else f"{what}: {message}"
    if len(errors) > 1:
        sentence += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return sentence
