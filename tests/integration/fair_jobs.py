"""An app with an owner share, for worker processes (``tests.integration.fair_jobs:app``):
``tests.work``, and ``tests.fair.timed``, which records when each job began and finished
(``tests.integration.limited_jobs.timed``)."""

from __future__ import annotations

import os
from dataclasses import replace

from queued_jobs.app import JobApp, Storage
from queued_jobs.fairness import OwnerShare
from tests.integration.jobs import build_app, storage_from_env
from tests.integration.limited_jobs import timed

#: How many of one owner's jobs may wait in the ready queues.
SHARE = 5


def build_fair_app(storage: Storage, *, lease: float = 2.0) -> JobApp:
    app = build_app(storage, lease=lease)
    app.settings = replace(app.settings, owner_share=OwnerShare(SHARE))
    app.job(timed, name="tests.fair.timed")
    return app


if "QJ_TEST_EVENTS" in os.environ:  # loaded by a worker process
    app = build_fair_app(storage_from_env(), lease=float(os.environ.get("QJ_TEST_LEASE", "2")))
