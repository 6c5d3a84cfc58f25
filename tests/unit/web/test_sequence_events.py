"""A sequence's change reads on every channel as a ``sequence`` event: the event stream's
fields, a webhook's type, a Web PubSub message."""

from __future__ import annotations

import base64
import json

import pytest

from queued_jobs.errors import ConfigurationError
from queued_jobs.repositories._sequences import sequence_change
from queued_jobs.sequences import Sequence, SequenceStatus
from queued_jobs.web.events.describe import change_fields
from queued_jobs.web.webhooks.config import WEBHOOKS_SETTING, Webhook, webhooks_from_settings
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


def test_a_webhook_hears_sequence_changes_only_when_it_asks_for_them() -> None:
    made = Sequence.new(owner="ada", name="n", steps=[{"jobs": [{"job_type": "t"}]}])
    ended = sequence_change(made.with_changes(status=SequenceStatus.SUCCEEDED, step=None))
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    jobs_only = Webhook(name="jobs", url="https://example.test/h", secret=secret)
    both = Webhook(name="both", url="https://example.test/h", secret=secret,
                   kinds=frozenset({"job", "sequence"}))  # fmt: skip
    assert not jobs_only.hears(ended)
    assert both.hears(ended)
    [from_settings] = webhooks_from_settings(
        {WEBHOOKS_SETTING: json.dumps([{"name": "s", "url": "https://example.test/h",
                                         "secret": secret, "kinds": ["sequence"]}])}
    )  # fmt: skip
    assert from_settings.hears(ended)
    with pytest.raises(ConfigurationError, match="kinds are one or more of job, sequence"):
        Webhook(name="x", url="https://example.test/h", secret=secret, kinds=frozenset({"jb"}))
