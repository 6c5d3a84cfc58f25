"""``GET /negotiate``: an Azure Web PubSub client URL for the caller's own job changes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from .._errors import NotConfigured
from .._runtime import runtime_of
from ._common import Caller, errors

__all__ = ["Negotiated", "router"]

router = APIRouter(tags=["events"])


class Negotiated(BaseModel):
    #: Connect a WebSocket here (it carries the token).
    url: str
    baseUrl: str  # noqa: N815 (the service's name)
    token: str
    hub: str
    #: The groups the connection joins: the caller's own (and operators' for them).
    groups: list[str]


@router.get("/negotiate", response_model=Negotiated, name="negotiate", responses=errors(404))
async def negotiate(request: Request, caller: Caller) -> Negotiated:
    """A client URL that joins the caller's own group of the app's Web PubSub hub, where
    their job changes are published (``404`` with ``not_configured`` when the app has no
    hub). The token lasts an hour; negotiate again for a new one."""
    runtime = runtime_of(request)
    pubsub = runtime.webpubsub
    if pubsub is None:
        raise NotConfigured("this app publishes to no Web PubSub hub")
    access = await pubsub.client_access(await runtime.pubsub_client(), caller)
    return Negotiated.model_validate(access)
