"""The standalone worker: a host for the pipeline on a VM, a container or a laptop.

Modules: ``settings`` (:class:`WorkerSettings`), ``host`` (the receive loop and its
shutdown), ``bands`` (the polling pace of each priority band), ``background`` (the sweep
and other tasks beside the loop, supervised), ``takeovers`` (expired leases taken over
ahead of the backlog), ``process`` (an event loop that lets a process exit on time).

- **Concurrency**: up to ``concurrency`` jobs at once; it only receives as many messages as
  it has free slots (no read-ahead that would hold messages other workers could run), and
  only once no more than ``fetch_threshold`` jobs are running (default: half the
  concurrency, like the Functions host's ``newBatchThreshold``), so that each receive
  brings a batch rather than one message at a time.
- **Prefetch** (off by default): with ``prefetch`` > 0 the worker may hold that many
  received messages beyond its running jobs, so receives come in larger batches (up to
  32). Held messages stay invisible to other workers, are renewed before they start if
  they waited long, and are handed back at once on shutdown. Worth it for many short jobs;
  leave it at 0 when jobs run for long.
- **Priority bands**: queues are given most urgent first; each fetch takes from the first
  band with messages, except every ``fairness``-th fetch, which starts from the least
  urgent band, so lower bands keep moving while higher ones are busy.
- **Adaptive polling, per band** (as the Functions host polls each queue trigger): a band
  that gave messages is asked again at once; after an empty answer its pause doubles from
  ``poll_min`` up to ``poll_max`` and it is skipped until then. An idle worker makes about
  one request per band per ``poll_max``; a busy one does not keep asking empty bands.
  Stores that can tell of new messages (SQLite's doorbell, memory) wake an idle worker at
  once, so there the poll is only a safety net.
- **Leases**: a running job's message and record are renewed by the pipeline's heartbeat.
- **Suspects run alone**: a job taken over from a worker that died may be what killed it;
  it runs with no other job beside it (the running ones end first, nothing new starts
  meanwhile; waiting messages are renewed), so that if it kills this worker too, it alone
  is charged for it (see :mod:`queued_jobs.execution.isolation`).
- **Takeovers ahead of the backlog**: every ``takeover_interval`` in which it started a
  message, the worker looks for jobs of its queues running under an expired lease and
  takes them over at once, rather than waiting for their message to come back behind every
  message sent meanwhile. An idle worker does not look: with its queues empty, such a
  message reaches it as soon as the lease ends.
- **Graceful stop** (``stop()``, SIGTERM, SIGINT): stop fetching (a receive in flight is
  not waited for: what it brings late is handed back); running jobs get
  ``shutdown_grace`` to finish; those still running are then halted and handed back
  (their ``on_halt`` hook runs, their message becomes visible at once) if their code
  stops within the pipeline's ``stop_timeout``, else left to their lease. Every wait is
  bounded, so the worker returns in time whatever storage or job code does.
- **Presence**: the worker saves its presence (``JobRepository.save_presence``: its
  queues, concurrency, jobs running and held, messages finished) at its start and every
  ``presence_interval`` (30 s), one write each, and once more marked ``stopped`` at a
  graceful stop (within a second); a save that fails is logged and the worker goes on.
  ``GET /workers`` shows them.
- **Slow storage**: a receive that storage keeps waiting (its client retries) is logged
  every ``slow_storage_warning``; a receive that fails, with any error, is logged and its
  band rests; nothing that happens to one receive or one message ends the worker.
"""

from __future__ import annotations

from .host import Worker, run_until_signalled
from .settings import WorkerSettings

__all__ = ["Worker", "WorkerSettings", "run_until_signalled"]
