"""``GET /health``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ... import __version__
from .._runtime import runtime_of
from ..schemas import Health
from ._common import Caller, errors

__all__ = ["router"]

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Health, name="health", responses=errors())
async def health(request: Request, caller: Caller) -> Health:
    """The server answers (with a principal: no route is open)."""
    development = runtime_of(request).auth.development
    return Health(status="ok", version=__version__, development_mode=development)
