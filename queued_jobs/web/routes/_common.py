"""What the routes share: the documented error responses and the caller dependency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import Depends

from .._runtime import principal_of
from ..auth import Principal
from ..schemas import ErrorBody

__all__ = ["ERRORS", "Caller", "errors"]

Caller = Annotated[Principal, Depends(principal_of)]

_DESCRIPTIONS: Final = {
    401: "No credentials, or credentials that do not check out.",
    403: "The caller's roles do not allow this.",
    404: "No such job (or it is another owner's).",
    409: "The job's state does not allow this, or its unique key is taken.",
    413: "A payload over the limits.",
    422: "The request does not validate; `fields` says where.",
    503: "The store is unreachable; try again after `Retry-After`.",
}


def errors(
    *statuses: int, described: Mapping[int, str] | None = None, open_route: bool = False
) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route answering ``statuses`` (and 401, 422 and 503, which
    every route can; an ``open_route``, which takes no principal, answers no 401).
    ``described`` says what a status means on this route, where it means something else
    than on the job routes."""
    chosen = sorted({422, 503, *statuses, *(() if open_route else (401,))})
    said = {**_DESCRIPTIONS, **(described or {})}
    return {s: {"model": ErrorBody, "description": said[s]} for s in chosen}


ERRORS: Final = errors()
