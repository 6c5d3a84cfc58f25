"""A sequence's change reads on every channel as a ``sequence`` event: the event stream's
fields, a webhook's type, a Web PubSub message."""

from __future__ import annotations

from queued_jobs.repositories._sequences import sequence_change
from queued_jobs.sequences import Sequence, SequenceStatus
from queued_jobs.web.events.describe import change_fields
from queued_jobs.web.webhooks.dispatch import event_body
from queued_jobs.web.webpubsub.publisher import change_message


def test_a_sequence_change_is_a_sequence_event_on_every_channel() -> None:
    made = Sequence.new(owner="ada", name="n", steps=[{"jobs": [{"job_type": "t"}]}] * 4)
    ended = made.with_changes(status=SequenceStatus.FAILED, step=None, reason="x" * 900)
    running = sequence_change(made.with_changes(step=2, iterations=(1, 1, 1, 0)))

    fields = change_fields(running)
    assert (fields["kind"], fields["type"], fields["job_id"], fields["status"]) == (
        "sequence",
        "sequence",
        made.id,
        "running",
    )
    assert fields["progress"] == {"percent": 50.0, "message": "step 2 (steps 0-3), iteration 1"}
    assert event_body(sequence_change(ended))["type"] == "sequence.failed"
    assert len(change_fields(sequence_change(ended))["error"] or "") == 500
    assert change_message(running)["event"] == "sequence"
