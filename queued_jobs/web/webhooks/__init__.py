"""Webhooks: job changes POSTed to an app's endpoints, signed as the Standard Webhooks spec
says, each delivery a tracked job of its own (it retries with backoff; its attempts are the
delivery log)::

    hooks = add_webhooks(app, [Webhook("billing", "https://billing.example.com/hooks",
                                       secret="whsec_...")])

Every host of the app then queues a delivery for each change a hook hears (a feed
consumer, one process at a time) and runs the deliveries like any job.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...app import JobApp
from ...client import JobClient
from ...context import JobContext
from ...feed.consumer import ChangeHandler
from ...models import JobChange
from .config import TAG_PREFIX, WEBHOOKS_SETTING, Webhook, webhooks_from_settings
from .delivery import DELIVERY_OWNER, DELIVERY_TYPE, Delivery, DeliveryFailed, deliver
from .dispatch import event_body, message_id, queue_deliveries

__all__ = [
    "DELIVERY_OWNER",
    "DELIVERY_TYPE",
    "TAG_PREFIX",
    "WEBHOOKS_SETTING",
    "Delivery",
    "DeliveryFailed",
    "Webhook",
    "add_webhooks",
    "event_body",
    "message_id",
    "webhooks_from_settings",
]


def add_webhooks(app: JobApp, hooks: Sequence[Webhook] | None = None) -> dict[str, Webhook]:
    """Give ``app`` its webhooks (by default those of the ``QUEUED_JOBS_WEBHOOKS`` app
    setting): registers the delivery job type and the feed consumer that queues
    deliveries. Returns the hooks by name (none: nothing is registered)."""
    chosen = {hook.name: hook for hook in (webhooks_from_settings() if hooks is None else hooks)}
    if not chosen:
        return chosen

    async def run_delivery(request: Delivery, context: JobContext) -> dict[str, object]:
        return await deliver(chosen, request, context)

    app.job(run_delivery, name=DELIVERY_TYPE)

    def handler(client: JobClient) -> ChangeHandler:
        async def handle(changes: Sequence[JobChange]) -> None:
            await queue_deliveries(client, chosen, changes)

        return handle

    app.consume_feed("webhooks", handler)
    return chosen
