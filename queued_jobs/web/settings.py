"""Knobs of the web API, with the defaults production wants."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["CORS_SETTING", "WebSettings"]

#: The app setting naming the origins allowed to call the API from a browser.
CORS_SETTING: Final = "QUEUED_JOBS_WEB_CORS_ORIGINS"


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
    #: Origins of other sites whose pages may call the API from a browser (the bell in a
    #: page served elsewhere), with their cookies: exact origins (``https://app.example``),
    #: never ``*``. Empty: the API's own origin only.
    cors_origins: tuple[str, ...] = ()

    @property
    def retry_after_header(self) -> str:
        """``retry_after`` as a ``Retry-After`` header's value: whole seconds, at least 1."""
        return str(max(1, round(self.retry_after.total_seconds())))

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        """The defaults, with the origins of ``QUEUED_JOBS_WEB_CORS_ORIGINS`` (a comma
        list) allowed to call from a browser."""
        env = os.environ if environ is None else environ
        named = env.get(CORS_SETTING, "")
        return cls(cors_origins=tuple(o.strip() for o in named.split(",") if o.strip()))

    def __post_init__(self) -> None:
        for origin in self.cors_origins:
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or origin != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ConfigurationError(
                    f"a CORS origin is a scheme and host, as https://app.example.com, not "
                    f"{origin[:100]!r}: the API answers with its users' cookies, so it names "
                    "every site it trusts (never '*')"
                )
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        if self.poll_interval <= timedelta(0) or self.heartbeat <= timedelta(0):
            raise ValueError("poll_interval and heartbeat must be more than 0")
        if self.max_streams < 1 or self.stream_buffer < 1:
            raise ValueError("max_streams and stream_buffer must be at least 1")
