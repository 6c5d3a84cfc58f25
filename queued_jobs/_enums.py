"""Members of a string enum chosen by their values, refused in a sentence when unknown."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from .errors import InvalidInput

__all__ = ["members"]

E = TypeVar("E", bound=StrEnum)


def members(kind: type[E], given: Iterable[E | str], what: str, *, shown: int) -> frozenset[E]:
    """The members of ``kind`` that ``given`` names (a bare string names one, not its
    letters); ``InvalidInput`` names the first unknown one (cut to ``shown`` characters)
    and lists the known values."""
    if isinstance(given, str):
        given = [given]
    chosen: set[E] = set()
    for value in given:
        try:
            chosen.add(kind(value))
        except ValueError:
            known = ", ".join(member.value for member in kind)
            raise InvalidInput(f"unknown {what} {str(value)[:shown]!r}; one of: {known}") from None
    return frozenset(chosen)
