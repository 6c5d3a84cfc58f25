"""What every channel tells of a change (event streams, webhooks, Web PubSub): one set of
fields, in one place."""

from __future__ import annotations

from ...models import JobChange

__all__ = ["change_fields"]


def change_fields(change: JobChange) -> dict[str, object]:
    """The change as JSON-ready fields: its job, owner, type, status, progress, attempt
    count, cancellation request, when it changed and the error's text."""
    progress = change.progress
    return {
        "job_id": change.job_id,
        "owner": change.owner,
        "type": change.job_type,
        "status": change.status.value,
        "progress": None if progress is None else progress.model_dump(),
        "attempts": change.attempts,
        "cancel_requested": change.cancel_requested,
        "changed_at": change.changed_at.isoformat(),
        "error": change.error,
    }
