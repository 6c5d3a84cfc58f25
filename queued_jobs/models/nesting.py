"""How deeply free-form JSON (requests, results, custom data) may nest.

Every reader of a stored record parses JSON with a depth limit: pydantic-core's parser
(jiter, which reads every record and message) refuses more than 200 levels of lists and
objects in a document, Python's ``json`` about 1,000 (the interpreter's recursion limit),
and pydantic-core's serializer gives up past 254. A record holds its payloads one or two
levels down and a queue message holds the record one level further, so payloads are capped
far below all of them.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic_core import PydanticSerializationError, to_json

from ..errors import InvalidInput, PayloadTooDeep

__all__ = ["MAX_NESTING", "check_nesting", "payload_json"]

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


def payload_json(value: object, what: str) -> bytes:
    """``value`` as compact UTF-8 JSON; raises :class:`PayloadTooDeep` if the serializer
    gives up on its depth, ``InvalidInput`` if it is not JSON at all."""
    try:
        return to_json(value)
    except PydanticSerializationError as exc:
        if "depth" in str(exc):
            raise PayloadTooDeep(what, MAX_NESTING) from None
        raise InvalidInput(f"{what} cannot be written as JSON: {exc}") from None


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
