"""Option values the commands share, read by option callbacks (``type=str`` options):
durations (``90m``, ``6h``, ``2d``), lists of statuses (``failed,cancelled``) and of
priority bands (``high,normal``); and a request given as JSON text (:func:`read_json`)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any, Final

import click

from .._cli_views import printable
from ..models import MAX_INT_DIGITS, MAX_NESTING, JobStatus, Priority

__all__ = ["duration", "priority_list", "read_json", "status_list"]

_Callback = Callable[[click.Context, click.Parameter, str | None], Any]

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
#: The longest duration text read (anything longer is refused unread).
_LONGEST: Final = 40


def duration(*, bare_unit: str, most: timedelta) -> _Callback:
    """Read a duration: parts of a number and a unit (``s``, ``m``, ``h``, ``d``, ``w``),
    such as ``90m``, ``6h``, ``1h30m`` or ``2d``; a bare number is in ``bare_unit``."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        text = value.strip().lower()
        seconds = _seconds(text, bare_unit) if len(text) <= _LONGEST else None
        if seconds is None:
            raise click.BadParameter(
                f"'{printable(value[:_LONGEST])}' is not a duration: write a number and a "
                f"unit, such as 90m, 6h, 1h30m or 2d (s, m, h, d, w; a bare number is "
                f"{bare_unit})",
                ctx,
                param,
            )
        if seconds > most.total_seconds():
            raise click.BadParameter(
                f"'{printable(text)}' is longer than {most.days:,} days", ctx, param
            )
        return timedelta(seconds=seconds)

    return convert


def _seconds(text: str, bare_unit: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text) * _UNITS[bare_unit[0]]
    if not text or _PART.sub("", text.replace(" ", "")):
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(text))


def status_list(allowed: Collection[JobStatus]) -> _Callback:
    """Read statuses separated by commas (``failed,cancelled``), each one of ``allowed``."""
    known = [status for status in JobStatus if status in allowed]
    names = ", ".join(status.value for status in known)

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        chosen: set[JobStatus] = set()
        for part in value.split(","):
            word = part.strip().lower()
            status = next((s for s in known if s.value == word), None)
            if status is None:
                raise click.BadParameter(
                    f"'{printable(part[:40])}' is not one of: {names}", ctx, param
                )
            chosen.add(status)
        return frozenset(chosen)

    return convert


def priority_list(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Read priority bands separated by commas (``high,normal``)."""
    if value is None:
        return None
    names = ", ".join(band.value for band in Priority)
    chosen: set[Priority] = set()
    for part in value.split(","):
        word = part.strip().lower()
        band = next((p for p in Priority if p.value == word), None)
        if band is None:
            raise click.BadParameter(f"'{printable(part[:40])}' is not one of: {names}", ctx, param)
        chosen.add(band)
    return frozenset(chosen)


def read_json(text: str | None, *, name: str = "REQUEST_JSON") -> Any:
    """A request given on the command line (``-``: standard input), parsed as JSON;
    ``name`` is the argument or option it came from, as errors call it."""
    if text is None:
        return None
    source = "standard input" if text == "-" else name
    hint = f"'{name}'"
    if text == "-":
        text = sys.stdin.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            param_hint=hint,
        ) from exc
    except RecursionError:
        raise click.BadParameter(
            f"{source} nests lists and objects too deeply to be read "
            f"(a request may have at most {MAX_NESTING} levels)",
            param_hint=hint,
        ) from None
    except ValueError:  # json's int conversion: more digits than Python converts
        raise click.BadParameter(
            f"{source} holds an integer of more than {MAX_INT_DIGITS:,} digits, which cannot "
            "be stored as a number: write it as a string",
            param_hint=hint,
        ) from None
