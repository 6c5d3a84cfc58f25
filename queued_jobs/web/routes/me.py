"""``GET /me``: who the caller is, for pages that show a user their own jobs and hide
what their roles do not allow."""

from __future__ import annotations

from fastapi import APIRouter, Request

from .._runtime import runtime_of
from ..schemas import Me
from ._common import Caller, errors

__all__ = ["router"]

router = APIRouter(tags=["system"])


@router.get("/me", response_model=Me, name="me", operation_id="me", responses=errors())
async def me(request: Request, caller: Caller) -> Me:
    """The caller: the owner id their jobs carry, their roles, the scheme that
    authenticated them, whether they see (readers, operators) and change (operators)
    every owner's jobs, and whether the server runs in development mode."""
    return Me(
        id=caller.id,
        name=caller.name,
        roles=sorted(caller.roles),
        scheme=caller.scheme,
        sees_all=caller.sees_all,
        acts_on_all=caller.acts_on_all,
        development_mode=runtime_of(request).auth.development,
    )
