"""Schedules from sync code: :class:`SyncScheduleClient`, the sync twin of
:class:`~queued_jobs.schedules.client.ScheduleClient`, on the event loop of a
:class:`~queued_jobs.sync_client.SyncJobClient` (``client.schedules``)::

    with SyncJobClient(lambda: app.client()) as client:
        nightly = client.schedules.create_schedule(
            "reports.build", owner="ops", name="nightly report", rule="cron:0 2 * * *"
        )
"""

from __future__ import annotations

from .._sync import LoopBound, blocking
from .client import ScheduleClient

__all__ = ["SyncScheduleClient"]


class SyncScheduleClient(LoopBound[ScheduleClient]):
    """The same methods as :class:`ScheduleClient`, with the same arguments, blocking.
    Closed with the :class:`~queued_jobs.sync_client.SyncJobClient` it came from."""

    create_schedule = blocking(ScheduleClient.create_schedule)
    get_schedule = blocking(ScheduleClient.get_schedule)
    list_schedules = blocking(ScheduleClient.list_schedules)
    list_slots = blocking(ScheduleClient.list_slots)
    preview = blocking(ScheduleClient.preview)
    update_schedule = blocking(ScheduleClient.update_schedule)
    pause = blocking(ScheduleClient.pause)
    resume = blocking(ScheduleClient.resume)
    trigger_now = blocking(ScheduleClient.trigger_now)
    delete_schedule = blocking(ScheduleClient.delete_schedule)
