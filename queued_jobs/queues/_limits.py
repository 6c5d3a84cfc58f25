"""Queue limits every adapter enforces the same way (Azure Storage queue rules)."""

from __future__ import annotations

from datetime import timedelta

from .._names import queue_name_problem
from ..errors import InvalidDelay, InvalidInput, MessageTooLarge
from .base import DEAD_LETTER_SUFFIX, MAX_BATCH, MAX_BODY_BYTES, MAX_DELAY, is_side_queue

__all__ = [
    "check_batch",
    "check_body",
    "check_delay",
    "check_lease",
    "check_queue_name",
    "check_ttl",
    "seconds",
]

#: Azure's longest queue name.
_AZURE_MAX_NAME = 63
_ZERO = timedelta(0)
_SECOND = timedelta(seconds=1)


def check_queue_name(name: str) -> str:
    """Refuse names Azure would refuse; a queue that is not a side queue itself must leave
    room for its side queues' suffixes (``-deadletter`` the longer)."""
    longest = _AZURE_MAX_NAME if is_side_queue(name) else _AZURE_MAX_NAME - len(DEAD_LETTER_SUFFIX)
    problem = queue_name_problem(name, max_len=longest)
    if problem:
        raise InvalidInput(problem)
    return name


def check_body(body: str) -> None:
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise MessageTooLarge(size, MAX_BODY_BYTES)


def check_delay(delay: timedelta | None, *, what: str = "delay") -> timedelta:
    delay = delay or _ZERO
    if delay < _ZERO or delay > MAX_DELAY:
        raise InvalidDelay(f"{what} must be between 0 and 7 days, not {delay}")
    return delay


def check_lease(visibility_timeout: timedelta) -> timedelta:
    """A receive's lease: at least one second (Azure refuses less), at most 7 days."""
    lease = check_delay(visibility_timeout, what="visibility timeout")
    if lease < _SECOND:
        raise InvalidDelay(f"a receive must lease messages for at least one second, not {lease}")
    return lease


def check_ttl(ttl: timedelta | None, delay: timedelta) -> None:
    """Refuse a time-to-live Azure would refuse; it compares whole seconds, rounded up."""
    if ttl is None:
        return
    if ttl < _SECOND:
        raise InvalidDelay(f"time-to-live must be at least one second, not {ttl}")
    if seconds(delay) >= seconds(ttl):
        raise InvalidDelay(
            f"delay {delay} must be shorter than the time-to-live {ttl} in whole seconds"
        )


def check_batch(max_messages: int) -> None:
    if not 1 <= max_messages <= MAX_BATCH:
        raise InvalidInput(f"max_messages must be between 1 and {MAX_BATCH}, not {max_messages}")


def seconds(delta: timedelta) -> int:
    """Whole seconds, rounded up: Azure takes delays and timeouts in seconds."""
    whole = int(delta.total_seconds())
    return whole + 1 if whole < delta.total_seconds() else whole
