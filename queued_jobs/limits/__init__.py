"""Concurrency and rate limits across every host (``docs/limits.md``).

A job type passes limits (``@app.job(limits=[...])``, ``JobRunner.limits``,
``Command(limits=...)``): :class:`ConcurrencyLimit` keeps at most N jobs of a key running
at once, :class:`RateLimit` at most R starts of a key per window. A job that would pass a
limit does not start: it waits without holding a worker or a message, and its record
says why (:attr:`~queued_jobs.models.QueuedJob.waiting`).
"""

from .definitions import (
    ConcurrencyLimit,
    KeyFunction,
    Limit,
    RateLimit,
    by_owner,
    by_request,
    by_type,
)
from .model import MAX_CAPACITY, MAX_RATE, Gate, Holding, LimitSettings, Waiter
from .store import LimitStore

__all__ = [
    "MAX_CAPACITY",
    "MAX_RATE",
    "ConcurrencyLimit",
    "Gate",
    "Holding",
    "KeyFunction",
    "Limit",
    "LimitSettings",
    "LimitStore",
    "RateLimit",
    "Waiter",
    "by_owner",
    "by_request",
    "by_type",
]
