"""From changes to deliveries: the feed handler that queues a delivery job for each change
a webhook hears."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from ...client import JobClient
from ...errors import DuplicateJob
from ...models import JobChange, UniqueScope
from ...telemetry import continuing
from ..events.describe import change_fields
from .config import Webhook
from .delivery import DELIVERY_OWNER, DELIVERY_TYPE, Delivery

__all__ = ["event_body", "message_id", "queue_deliveries"]


def message_id(hook: Webhook, change: JobChange) -> str:
    """The delivery's ``webhook-id``: the same however often the change is read."""
    key = f"{hook.name}\n{change.partition}\n{change.position}".encode()
    return "msg_" + hashlib.blake2b(key, digest_size=16).hexdigest()


def event_body(change: JobChange) -> dict[str, object]:
    """The event as the Standard Webhooks spec shapes it: ``type``, ``timestamp``,
    ``data``. The output a change added is left out (up to 8,000 characters that every
    delivery would store and send): ``output_length`` says how far it goes, and
    ``GET /jobs/{id}/output`` reads it."""
    data = change_fields(change)
    data.pop("output", None)
    return {
        "type": f"{change.kind}.{change.status.value}",
        "timestamp": change.changed_at.isoformat(),
        "data": data,
    }


async def queue_deliveries(
    client: JobClient, hooks: Mapping[str, Webhook], changes: Sequence[JobChange]
) -> int:
    """Queue a delivery for each change each hook hears; returns how many were queued. A
    delivery already queued for the same hook and change (the same ``message_id``, as its
    unique key) is not queued again. Deliveries themselves are never heard."""
    queued = 0
    for change in changes:
        if change.job_type == DELIVERY_TYPE:
            continue
        for hook in hooks.values():
            if not hook.hears(change, change.tags):
                continue
            delivery = Delivery(
                hook=hook.name, message_id=message_id(hook, change), body=event_body(change)
            )
            try:
                with continuing(change.trace_context):  # traced in the job's trace
                    await client.queue_job(
                        DELIVERY_TYPE,
                        delivery.model_dump(mode="json"),
                        owner=DELIVERY_OWNER,
                        unique_key=delivery.message_id,
                        unique_scope=UniqueScope.GLOBAL,
                        max_attempts=hook.max_attempts,
                        correlation_id=change.job_id,
                    )
            except DuplicateJob:
                continue
            queued += 1
    return queued
