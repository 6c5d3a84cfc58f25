"""Limits as an application declares them: :class:`ConcurrencyLimit` and
:class:`RateLimit`, each a name, a capacity or rate, and a key function of the job.

::

    exports = ConcurrencyLimit("exports", 2, key=by_request("customer_id"))
    payments = RateLimit("payments", 10, per=timedelta(seconds=1))

    @app.job(name="reports.export", limits=[exports, payments])
    async def export(request: Export) -> None: ...

A limit with the same name is one limit wherever it is attached: two job types that both
name ``payments`` share its places. The key function sees the stored job
(:class:`~queued_jobs.models.QueuedJob`: owner, type, request as JSON) and returns the key
of the job's gate, or ``None`` when the limit does not apply to that job.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from ..errors import ConfigurationError, InvalidInput
from ..models import QueuedJob
from ..models.waiting import gate_key
from ..repositories._gates import check_limit_name
from .model import MAX_CAPACITY, MAX_RATE

__all__ = [
    "ConcurrencyLimit",
    "KeyFunction",
    "Limit",
    "RateLimit",
    "by_owner",
    "by_request",
    "by_type",
    "gate_key_of",
]

#: The key of a job's gate, from the stored job; ``None``: the limit does not apply.
KeyFunction = Callable[[QueuedJob], "str | int | None"]
_LONGEST_WINDOW: Final = timedelta(days=1)
_SHORTEST_WINDOW: Final = timedelta(milliseconds=10)


def _one_gate(_: QueuedJob) -> str:
    return ""


def by_owner(job: QueuedJob) -> str:
    """One gate per owner: "at most 2 exports per user"."""
    return job.owner


def by_type(job: QueuedJob) -> str:
    """One gate per job type (for a limit shared by several types)."""
    return job.job_type


def by_request(field_name: str) -> KeyFunction:
    """One gate per value of the request's top-level field ``field_name``: "at most 2
    exports per customer". A job whose request has no such field fails, saying so (a
    request that does not name its customer cannot be kept to the customer's limit)."""
    if not isinstance(field_name, str) or not field_name:
        raise ConfigurationError("by_request needs the name of a field of the request")

    def key(job: QueuedJob) -> str:
        request = job.request
        if not isinstance(request, dict) or field_name not in request:
            raise InvalidInput(f"the request has no field {field_name!r} to key the limit by")
        value = request[field_name]
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    key.__qualname__ = f"by_request({field_name!r})"
    return key


def gate_key_of(value: object) -> str:
    """The gate key for a key function's answer: its text, or, past
    :data:`~queued_jobs.models.waiting.MAX_GATE_KEY` characters or with characters a key
    cannot hold, a digest of it (``#`` and 40 hex digits)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(
            f"a limit's key function returns text, an integer or None, not {type(value).__name__}"
        )
    text = value if isinstance(value, str) else str(value)
    try:
        return gate_key(text)
    except ValueError:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return "#" + digest


@dataclass(frozen=True, slots=True)
class _Limit:
    name: str
    key: KeyFunction = field(default=_one_gate)

    def __post_init__(self) -> None:
        try:
            check_limit_name(self.name)
        except InvalidInput as exc:
            raise ConfigurationError(str(exc)) from None
        if not callable(self.key):
            raise ConfigurationError(f"the key of limit {self.name!r} is not callable")

    def gate_key(self, job: QueuedJob) -> str | None:
        """The key of ``job``'s gate, or ``None`` if the limit does not apply to it.
        ``InvalidInput`` (from the key function, or for what it returned) fails the job."""
        value = self.key(job)
        return None if value is None else gate_key_of(value)


@dataclass(frozen=True, slots=True)
class ConcurrencyLimit(_Limit):
    """At most ``capacity`` jobs of a key run at once, across every host.

    A job that would be one too many does not start: it is parked (no worker slot, no
    message lease) and woken by the first job of its key that ends."""

    capacity: int = 1

    def __init__(self, name: str, capacity: int, *, key: KeyFunction | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "key", key or _one_gate)
        object.__setattr__(self, "capacity", capacity)
        _Limit.__post_init__(self)
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise ConfigurationError(f"the capacity of limit {name!r} is a whole number")
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ConfigurationError(
                f"the capacity of limit {name!r} is 1 to {MAX_CAPACITY}, not {capacity}"
            )

    def describe(self) -> str:
        return f"at most {self.capacity} at once"


@dataclass(frozen=True, slots=True)
class RateLimit(_Limit):
    """At most ``rate`` jobs of a key start in any window of ``per``, across every host
    (a sliding window over the latest starts). A job over the rate comes back at its turn:
    those that wait come back ``per / rate`` apart, in the order they asked."""

    rate: int = 1
    per: timedelta = timedelta(seconds=1)

    def __init__(
        self,
        name: str,
        rate: int,
        *,
        per: timedelta = timedelta(seconds=1),
        key: KeyFunction | None = None,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "key", key or _one_gate)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "per", per)
        _Limit.__post_init__(self)
        if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= MAX_RATE:
            raise ConfigurationError(f"the rate of limit {name!r} is 1 to {MAX_RATE}, not {rate!r}")
        if not isinstance(per, timedelta) or not _SHORTEST_WINDOW <= per <= _LONGEST_WINDOW:
            raise ConfigurationError(f"the window of limit {name!r} is 10 ms to 1 day, not {per!r}")

    def describe(self) -> str:
        seconds = self.per.total_seconds()
        window = (
            f"{seconds:g}s"
            if seconds < 60 or not math.isclose(seconds % 60, 0)
            else (f"{seconds / 60:g}min")
        )
        return f"at most {self.rate} starts per {window}"


Limit = ConcurrencyLimit | RateLimit
