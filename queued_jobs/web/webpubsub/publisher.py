"""Publishing job changes to Azure Web PubSub groups, and the client tokens for them."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from ...app import JobApp
from ...client import JobClient
from ...errors import ConfigurationError, StorageUnavailable
from ...feed.consumer import ChangeHandler
from ...models import JobChange
from ..auth import Principal
from ..events.describe import change_fields

__all__ = [
    "CONNECTION_SETTING",
    "HUB_SETTING",
    "OPERATORS_GROUP",
    "WebPubSub",
    "add_webpubsub",
    "change_message",
    "owner_group",
]

#: The app setting holding the Web PubSub connection string.
CONNECTION_SETTING: Final = "QUEUED_JOBS_WEBPUBSUB_CONNECTION"
#: The app setting naming the hub (default ``jobs``).
HUB_SETTING: Final = "QUEUED_JOBS_WEBPUBSUB_HUB"
#: Operators' and readers' connections join this group: it hears every change.
OPERATORS_GROUP: Final = "queued-jobs-operators"
_TOKEN_MINUTES = 60


def owner_group(owner: str) -> str:
    """The group an owner's changes go to: a digest, since group names cannot hold every
    character an owner can (and need not show who it is)."""
    return "owner-" + hashlib.blake2b(owner.encode("utf-8"), digest_size=16).hexdigest()


def change_message(change: JobChange) -> dict[str, Any]:
    """What a group hears of a change: the fields of an event stream's ``job`` (or
    ``sequence``) event."""
    return {
        "event": change.kind,
        "event_id": f"{change.partition}:{change.position}",
        **change_fields(change),
    }


@dataclass(frozen=True)
class WebPubSub:
    """A Web PubSub hub: by connection string, or by endpoint and a Microsoft Entra
    credential (the identity needs the *Web PubSub Service Owner* role)."""

    hub: str = "jobs"
    connection_string: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    credential: AsyncTokenCredential | AzureKeyCredential | None = field(default=None, repr=False)
    #: Also publish every change to :data:`OPERATORS_GROUP`.
    operators_group: bool = True

    def __post_init__(self) -> None:
        if not self.hub.isidentifier():
            raise ConfigurationError(f"Web PubSub hub {self.hub!r:.80} is not a valid name")
        if (self.connection_string is None) == (self.endpoint is None):
            raise ConfigurationError("give Web PubSub a connection string or an endpoint")
        if self.endpoint is not None and self.credential is None:
            raise ConfigurationError("a Web PubSub endpoint needs a credential")

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> WebPubSub | None:
        """The hub of the app settings (``None`` when no connection is set)."""
        env = os.environ if environ is None else environ
        connection = env.get(CONNECTION_SETTING, "").strip()
        if not connection:
            return None
        return cls(hub=env.get(HUB_SETTING, "").strip() or "jobs", connection_string=connection)

    @property
    def socket_origin(self) -> str:
        """Where clients' WebSockets go (``wss://<host>``): for a page's
        ``Content-Security-Policy: connect-src``."""
        endpoint = self.endpoint
        if endpoint is None:
            assert self.connection_string is not None  # checked when made
            parts = dict(
                part.split("=", 1) for part in self.connection_string.split(";") if "=" in part
            )
            endpoint = {k.lower(): v for k, v in parts.items()}.get("endpoint", "")
        address = urlsplit(endpoint)
        scheme = "ws" if address.scheme == "http" else "wss"
        return f"{scheme}://{address.netloc}"

    def client(self) -> WebPubSubServiceClient:
        if self.connection_string is not None:
            return WebPubSubServiceClient.from_connection_string(self.connection_string, self.hub)
        assert self.endpoint is not None  # checked when made
        assert self.credential is not None
        return WebPubSubServiceClient(self.endpoint, self.hub, self.credential)

    async def client_access(
        self, client: WebPubSubServiceClient, principal: Principal
    ) -> dict[str, Any]:
        """A client URL and token for ``principal``: its connection joins the caller's
        own group (and the operators' group for operators and readers), and may do
        nothing else (no joining, no sending)."""
        groups = [owner_group(principal.id)]
        if principal.sees_all and self.operators_group:
            groups.append(OPERATORS_GROUP)
        try:
            access = await client.get_client_access_token(
                user_id=principal.id, groups=groups, minutes_to_expire=_TOKEN_MINUTES
            )
        except AzureError as exc:
            raise StorageUnavailable(f"Web PubSub did not give a token: {exc}") from None
        return {**access, "groups": groups, "hub": self.hub}

    async def publish(self, client: WebPubSubServiceClient, changes: Sequence[JobChange]) -> None:
        """Send each change to its owner's group (and the operators' group): each group's
        messages one after the other, in the order of the changes (a group never hears a
        job's end before its start), the groups at once."""
        by_group: dict[str, list[dict[str, Any]]] = {}
        for change in changes:
            message = change_message(change)
            by_group.setdefault(owner_group(change.owner), []).append(message)
            if self.operators_group:
                by_group.setdefault(OPERATORS_GROUP, []).append(message)

        async def send(group: str, messages: list[dict[str, Any]]) -> None:
            for message in messages:
                await client.send_to_group(group, message, content_type="application/json")

        try:
            await asyncio.gather(*(send(g, m) for g, m in by_group.items()))
        except AzureError as exc:
            raise StorageUnavailable(f"publishing to Web PubSub failed: {exc}") from None


def add_webpubsub(app: JobApp, pubsub: WebPubSub | None = None) -> WebPubSub | None:
    """Have every host of ``app`` publish its job changes to ``pubsub`` (by default the
    hub of the app settings; ``None`` there: nothing is added)."""
    chosen = pubsub or WebPubSub.from_settings()
    if chosen is None:
        return None

    def handler(client: JobClient) -> ChangeHandler:
        async def handle(changes: Sequence[JobChange]) -> None:
            # A client per batch (a batch per pass at most): nothing is left open when the
            # host stops.
            async with chosen.client() as service:
                await chosen.publish(service, changes)

        return handle

    app.consume_feed("webpubsub", handler)
    return chosen
