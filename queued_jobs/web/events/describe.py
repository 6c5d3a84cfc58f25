"""What every channel tells of a change (event streams, webhooks, Web PubSub): one set of
fields, in one place."""

from __future__ import annotations

from ...models import JobChange

__all__ = ["change_fields"]


def change_fields(change: JobChange) -> dict[str, object]:
    """The change as JSON-ready fields: its job, owner, type, status, progress, attempt
    count, cancellation request, when it changed, the error's text, and its kind (a job's
    change, or a sequence's: then ``job_id`` is the sequence's id, ``type`` is
    ``"sequence"``, ``progress`` names its step, ``attempts`` counts its runs). A change
    whose write added output also has ``output`` (the text it added) and
    ``output_length`` (the job's output length it ends at)."""
    progress = change.progress
    fields: dict[str, object] = {
        "job_id": change.job_id,
        "owner": change.owner,
        "type": change.job_type,
        "status": change.status.value,
        "progress": None if progress is None else progress.model_dump(),
        "attempts": change.attempts,
        "cancel_requested": change.cancel_requested,
        "changed_at": change.changed_at.isoformat(),
        "error": change.error,
        "kind": change.kind,
    }
    if change.output is not None:
        fields["output"] = change.output
        fields["output_length"] = change.output_length
    return fields
