"""A job's output on each channel: the event stream and Web PubSub carry the text a write
added with the length it ends at; a webhook's body says the length only; a change that
added no output has neither."""

from __future__ import annotations

from datetime import UTC, datetime

from queued_jobs.models import JobChange, JobOutput, QueuedJob, change_of
from queued_jobs.web.events.describe import change_fields
from queued_jobs.web.webhooks.dispatch import event_body
from queued_jobs.web.webpubsub.publisher import change_message

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
PRINTED = JobOutput().appended("one\n").appended("<b>two</b>\n")


def _change_with(output: JobOutput | None) -> JobChange:
    job = QueuedJob.new(owner="ada", job_type="t", now=NOW).model_copy(update={"output": output})
    return change_of(job, partition="j1", position="1")


def test_a_change_that_added_output_carries_it_on_the_stream_and_web_pubsub() -> None:
    change = _change_with(PRINTED)

    fields = change_fields(change)
    message = change_message(change)

    assert (fields["output"], fields["output_length"]) == ("<b>two</b>\n", 15)
    assert (message["output"], message["output_length"]) == ("<b>two</b>\n", 15)


def test_a_webhook_body_says_how_far_the_output_goes_but_not_what_it_is() -> None:
    change = _change_with(PRINTED)

    data = event_body(change)["data"]

    assert isinstance(data, dict)
    assert "output" not in data
    assert data["output_length"] == 15


def test_a_change_that_added_no_output_has_no_output_fields() -> None:
    quiet = PRINTED.model_copy(update={"new": 0})
    for output in (None, quiet):
        change = _change_with(output)
        assert not {"output", "output_length"} & set(change_fields(change))
