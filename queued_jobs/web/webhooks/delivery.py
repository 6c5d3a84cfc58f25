"""One webhook delivery, run as a job of its own (type :data:`DELIVERY_TYPE`): it retries
with backoff like any job, and its attempts are the delivery log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from standardwebhooks.webhooks import Webhook as Signer

from ...context import JobContext
from ...errors import PermanentError
from .config import Webhook

__all__ = ["DELIVERY_OWNER", "DELIVERY_TYPE", "Delivery", "DeliveryFailed", "deliver"]

DELIVERY_TYPE: Final = "queued_jobs.webhook"
#: The owner of delivery jobs (operators see them; no end user does).
DELIVERY_OWNER: Final = "queued-jobs"
_BODY_SHOWN = 200


class Delivery(BaseModel):
    """What one delivery sends: to the hook ``hook``, message ``message_id`` (the same on
    every try: receivers drop repeats by it), the event ``body``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hook: str = Field(max_length=64)
    message_id: str = Field(max_length=128)
    body: dict[str, JsonValue]


class DeliveryFailed(Exception):
    """The endpoint did not take the delivery; it is tried again later."""


def _signed_headers(hook: Webhook, delivery: Delivery, payload: str) -> dict[str, str]:
    now = datetime.now(UTC)
    signature = Signer(hook.secret).sign(delivery.message_id, now, payload)
    return {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "queued-jobs-webhooks",
    }


async def deliver(
    hooks: Mapping[str, Webhook], delivery: Delivery, context: JobContext
) -> dict[str, Any]:
    """POST the delivery to its hook's URL. 2xx: done. 410 Gone, or a hook this app no
    longer has: failed for good. Anything else (another status, no answer in time, a
    refused connection): tried again with backoff."""
    hook = hooks.get(delivery.hook)
    if hook is None:
        raise PermanentError(f"the app has no webhook {delivery.hook!r} any more")
    payload = json.dumps(delivery.body, separators=(",", ":"), sort_keys=True)
    timeout = aiohttp.ClientTimeout(total=hook.timeout.total_seconds())
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                hook.url,
                data=payload,
                headers=_signed_headers(hook, delivery, payload),
                allow_redirects=False,
            ) as response,
        ):
            status = response.status
            answer = (await response.content.read(_BODY_SHOWN)).decode("utf-8", "replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryFailed(f"{hook.name}: no answer from the endpoint: {exc!r}") from None
    _traced(hook, status)
    if 200 <= status < 300:
        return {"status": status}
    if status == 410:
        raise PermanentError(f"{hook.name}: the endpoint is gone (410): {answer!r}")
    raise DeliveryFailed(f"{hook.name}: the endpoint answered {status}: {answer!r}")


def _traced(hook: Webhook, status: int) -> None:
    """Say on the delivery's span (its attempt's) where it went and what came back."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(
            {
                "queued_jobs.webhook.name": hook.name,
                "http.request.method": "POST",
                "server.address": urlsplit(hook.url).hostname or "",
                "http.response.status_code": status,
            }
        )
