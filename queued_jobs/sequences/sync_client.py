"""Sequences from sync code: :class:`SyncSequenceClient`, the sync twin of
:class:`~queued_jobs.sequences.client.SequenceClient`, on the event loop of a
:class:`~queued_jobs.sync_client.SyncJobClient` (``client.sequences``)::

    with SyncJobClient(lambda: app.client()) as client:
        started = client.sequences.start(
            [{"jobs": [{"job_type": "zip.build"}]}], owner="ada", name="one zip"
        )
"""

from __future__ import annotations

from .._sync import LoopBound, blocking
from .client import SequenceClient

__all__ = ["SyncSequenceClient"]


class SyncSequenceClient(LoopBound[SequenceClient]):
    """The same methods as :class:`SequenceClient`, with the same arguments, blocking.
    Closed with the :class:`~queued_jobs.sync_client.SyncJobClient` it came from."""

    start = blocking(SequenceClient.start)
    get = blocking(SequenceClient.get)
    list = blocking(SequenceClient.list)
    cancel = blocking(SequenceClient.cancel)
    purge = blocking(SequenceClient.purge)
