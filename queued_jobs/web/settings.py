"""Knobs of the web API, with the defaults production wants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["WebSettings"]


@dataclass(frozen=True, slots=True)
class WebSettings:
    #: Largest request body accepted (``413`` beyond it). A job's request may be up to the
    #: repository's payload limit (1 MiB by default); the rest is room for the envelope.
    max_body_bytes: int = 1024 * 1024 + 64 * 1024
    #: What ``Retry-After`` tells a client to wait before it reads a job it just started.
    retry_after: timedelta = timedelta(seconds=2)
    #: How often each event partition is read while a stream listens to it (one read per
    #: partition per interval, however many streams listen).
    poll_interval: timedelta = timedelta(milliseconds=500)
    #: A comment line goes down every open event stream this often, so that proxies and
    #: clients see it is alive.
    heartbeat: timedelta = timedelta(seconds=15)
    #: Open event streams one process serves at most (``503`` beyond it).
    max_streams: int = 10_000
    #: Events a slow stream may have waiting before it is closed (the client resumes with
    #: ``Last-Event-ID`` and misses nothing).
    stream_buffer: int = 10_000
    #: How long a stream's position stays good for resuming: a ``Last-Event-ID`` older than
    #: this gets a ``reset`` event (the store keeps events for the execution settings'
    #: ``change_retention``; keep this shorter).
    resume_window: timedelta = timedelta(hours=12)
    #: A resumed stream catches up on at most this many changes of a partition (of every
    #: owner's, on SQLite); past it, it gets a ``reset`` and goes on from now.
    max_replay: int = 10_000
    #: Where the host buffers each response until it ends (the Functions HTTP trigger
    #: without the streaming extension), an event stream ends soon after its first events,
    #: or after this long without any; the client comes back with ``Last-Event-ID``.
    buffered_window: timedelta = timedelta(seconds=20)

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        if self.poll_interval <= timedelta(0) or self.heartbeat <= timedelta(0):
            raise ValueError("poll_interval and heartbeat must be more than 0")
        if self.max_streams < 1 or self.stream_buffer < 1:
            raise ValueError("max_streams and stream_buffer must be at least 1")
