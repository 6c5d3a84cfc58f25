"""Limits from sync code: :class:`SyncLimitClient`, the sync twin of
:class:`~queued_jobs.limits.client.LimitClient`, on the event loop of a
:class:`~queued_jobs.sync_client.SyncJobClient` (``client.limits``)::

    with SyncJobClient(lambda: app.client()) as client:
        for limit in client.limits.list_limits():
            print(limit.name, limit.describe())
        client.limits.set_limit("exports", capacity=4, by="ops")
"""

from __future__ import annotations

from .._sync import LoopBound, blocking
from .client import LimitClient

__all__ = ["SyncLimitClient"]


class SyncLimitClient(LoopBound[LimitClient]):
    """The same methods as :class:`LimitClient`, with the same arguments, blocking.
    Closed with the :class:`~queued_jobs.sync_client.SyncJobClient` it came from."""

    list_limits = blocking(LimitClient.list_limits)
    get_limit = blocking(LimitClient.get_limit)
    set_limit = blocking(LimitClient.set_limit)
    reset_limit = blocking(LimitClient.reset_limit)
