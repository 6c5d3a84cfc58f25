"""What free-form JSON (requests, results, custom data) may hold so that it reads back.

Every reader of a stored record parses JSON with a depth limit: pydantic-core's parser
(jiter, which reads every record and message) refuses more than 200 levels of lists and
objects in a document, Python's ``json`` about 1,000 (the interpreter's recursion limit),
and pydantic-core's serializer gives up past 254. A record holds its payloads one or two
levels down and a queue message holds the record one level further, so payloads are capped
far below all of them.

Numbers too: pydantic-core's parser refuses an integer of more than 4,300 digits (and so
does Python's ``json``, by its ``int`` conversion limit), though its serializer writes one;
and JSON has no infinity or NaN: pydantic's serializer writes them as ``null`` (or as
``Infinity`` and ``NaN``, which are not JSON). Both are refused rather than stored changed.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic_core import PydanticSerializationError, to_json

from ..errors import InvalidInput, PayloadTooDeep

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_NESTING",
    "NOT_FINITE",
    "check_nesting",
    "check_payload",
    "has_non_finite",
    "payload_json",
]

#: Most levels of lists and objects inside each other a request, a result or custom data
#: may have (custom data's own object counts as one).
MAX_NESTING: Final = 64
#: ``bytes.translate`` deletes these: all but brackets and quotes.
_NOT_BRACKETS_OR_QUOTES: Final = bytes(range(256)).translate(None, b'[]{}"')
_SQUARE: Final = bytes.maketrans(b"{}", b"[]")
#: Levels peeled off by whole-string passes before the rest is measured run by run.
_PASSES: Final = 8
_RUNS: Final = re.compile(rb"\[+|\]+")
_OPEN: Final = ord("[")
#: Most digits an integer may have: pydantic-core's JSON parser refuses more.
MAX_INT_DIGITS: Final = 4300
_DIGITS: Final = b"0123456789"
_DIGITS_AS_ZERO: Final = bytes.maketrans(_DIGITS, b"0" * 10)
_TOO_MANY_DIGITS: Final = b"0" * (MAX_INT_DIGITS + 1)
_DIGIT_RUN: Final = re.compile(rb"[0-9]+")
#: What is wrong with a payload holding an infinity or a NaN (after its name).
NOT_FINITE: Final = (
    "holds a number that is not finite (infinity or NaN), which JSON cannot hold (it would "
    "be stored as null); leave it out or write it as a string"
)


def payload_json(value: object, what: str) -> bytes:
    """``value`` as compact UTF-8 JSON; raises :class:`PayloadTooDeep` if the serializer
    gives up on its depth, ``InvalidInput`` if it is not JSON at all."""
    try:
        return to_json(value)
    except PydanticSerializationError as exc:
        if "depth" in str(exc):
            raise PayloadTooDeep(what, MAX_NESTING) from None
        raise InvalidInput(f"{what} cannot be written as JSON: {exc}") from None


def _outside_strings(data: bytes) -> bytes:
    """The JSON ``data`` with the contents of its strings removed (escaped backslashes and
    quotes first, so that every quote left opens or closes a string)."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(data.split(b'"')[::2])


def _has_constant(data: bytes) -> bool:
    """Whether ``data`` holds the text of ``to_json``'s ``NaN`` or ``Infinity``, anywhere
    (a byte search first: most payloads have no capital N or I at all)."""
    return (b"N" in data and b"NaN" in data) or (b"I" in data and b"Infinity" in data)


def has_non_finite(data: bytes) -> bool:
    """Whether ``to_json``'s ``data`` holds an infinity or a NaN (outside strings, where
    ``N`` and ``I`` are in no JSON literal)."""
    if not _has_constant(data):
        return False
    outside = _outside_strings(data)
    return b"N" in outside or b"I" in outside


def _may_hold_long_run(data: bytes) -> bool:
    """Whether ``data`` may hold a run of more than :data:`MAX_INT_DIGITS` digits: such a
    run covers a multiple of that length, so only the bytes there are looked at, and the
    run through each that is a digit measured."""
    step = MAX_INT_DIGITS
    for at in range(0, len(data), step):
        if not 48 <= data[at] <= 57:  # not a digit
            continue
        before = data[max(0, at - step) : at]
        run = _DIGIT_RUN.match(data, at)
        assert run is not None
        if len(before) - len(before.rstrip(_DIGITS)) + run.end() - at > step:
            return True
    return False


def _long_integer(outside: bytes) -> int:
    """The digits of the first integer longer than :data:`MAX_INT_DIGITS` in ``outside``
    (JSON without its strings), or 0."""
    start = outside.translate(_DIGITS_AS_ZERO).find(_TOO_MANY_DIGITS)
    run = _DIGIT_RUN.match(outside, start) if start >= 0 else None
    return len(run.group()) if run else 0


def _number_problem(data: bytes) -> str | None:
    """What is wrong with the numbers of the JSON ``data``, if anything.

    Only ``to_json``'s constants hold ``NaN`` or ``Infinity``, and only a text longer than
    :data:`MAX_INT_DIGITS` can hold a longer number: most payloads cost two byte searches.
    A candidate is confirmed outside strings.
    """
    constant = _has_constant(data)
    long = len(data) > MAX_INT_DIGITS and _may_hold_long_run(data)
    if not (constant or long):
        return None
    outside = _outside_strings(data)
    if constant and (b"N" in outside or b"I" in outside):
        return NOT_FINITE
    digits = _long_integer(outside) if long else 0
    if digits:
        return (
            f"holds an integer of {digits:,} digits; at most {MAX_INT_DIGITS:,} can be read "
            "back as JSON: write it as a string"
        )
    return None


def _nests_deeper(data: bytes, limit: int) -> bool:
    """Whether the JSON ``data`` nests more than ``limit`` levels, at C speed.

    Escaped backslashes and quotes go first, so that every quote left opens or closes a
    string. Then only brackets (made one kind) and quotes are kept; two quotes side by side
    go (an empty string, or two strings with no bracket between them: either way no
    bracket of the structure); what is left between quotes is inside strings and goes too.
    Each pass then deletes the innermost pairs, one level: a few passes settle most
    payloads; what is still left is measured run by run of brackets.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = data.translate(_SQUARE, _NOT_BRACKETS_OR_QUOTES).replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])
    passes = min(limit, _PASSES)
    for _ in range(passes):
        if not kept:
            return False
        kept = kept.replace(b"[]", b"")
    depth = 0
    for run in _RUNS.findall(kept):
        depth += len(run) if run[0] == _OPEN else -len(run)
        if depth > limit - passes:
            return True
    return False


def check_nesting(
    value: object, what: str, *, encoded: bytes | None = None, limit: int = MAX_NESTING
) -> None:
    """Raise :class:`PayloadTooDeep` if ``value`` nests more than ``limit`` levels.

    ``encoded`` is the value as JSON if it is already at hand. JSON with no more brackets
    than ``limit`` cannot nest deeper: the common case costs two counts.
    """
    if not isinstance(value, (dict, list, tuple)):
        return
    data = payload_json(value, what) if encoded is None else encoded
    if data.count(b"[") + data.count(b"{") > limit and _nests_deeper(data, limit):
        raise PayloadTooDeep(what, limit)


def check_payload(
    value: object, what: str, *, encoded: bytes | None = None, limit: int = MAX_NESTING
) -> bytes:
    """Refuse ``value`` unless it reads back as JSON just as it is; returns its JSON.

    Raises :class:`PayloadTooDeep` if it nests more than ``limit`` levels,
    ``InvalidInput`` if it holds an integer of more than :data:`MAX_INT_DIGITS` digits, an
    infinity or a NaN, or is not JSON at all. ``encoded`` is the value as compact JSON
    (``to_json``, which writes infinities as ``Infinity``) if it is already at hand.
    """
    data = payload_json(value, what) if encoded is None else encoded
    check_nesting(value, what, encoded=data, limit=limit)
    problem = _number_problem(data)
    if problem:
        raise InvalidInput(f"{what} {problem}")
    return data
