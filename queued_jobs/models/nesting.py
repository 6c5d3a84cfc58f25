"""How deeply free-form JSON (requests, results, custom data) may nest.

Every reader of a stored record parses JSON with a depth limit: pydantic-core's parser
(jiter, which reads every record and message) refuses more than 200 levels of lists and
objects in a document, Python's ``json`` about 1,000 (the interpreter's recursion limit),
and pydantic-core's serializer gives up past 254. A record holds its payloads one or two
levels down and a queue message holds the record one level further, so payloads are capped
far below all of them.
"""

from __future__ import annotations

from typing import Final

from pydantic_core import PydanticSerializationError, to_json

from ..errors import InvalidInput, PayloadTooDeep

__all__ = ["MAX_NESTING", "check_nesting", "payload_json"]

#: Most levels of lists and objects inside each other a request, a result or custom data
#: may have (custom data's own object counts as one).
MAX_NESTING: Final = 64
_BRACKETS_ONLY: Final = bytes(range(256)).translate(None, b"[]{}")
_SQUARE: Final = bytes.maketrans(b"{}", b"[]")


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
    """Whether the JSON ``data`` nests more than ``limit`` levels, at C speed: strings are
    cut out (after their escaped backslashes and quotes), the brackets left are made one
    kind, and each pass deletes the innermost pairs, one level."""
    unquoted = data.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2]
    brackets = b"".join(unquoted).translate(_SQUARE, _BRACKETS_ONLY)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


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
