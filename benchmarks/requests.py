"""Count Azure Storage requests by kind, by phase of a job and by source, and the bytes of
their bodies (``raw_request_hook`` and ``raw_response_hook`` on every SDK client:
:meth:`RequestKinds.hooks`).

Phases: *enqueue* (the job's rows and its message), *claim* (the receive and the
transaction to RUNNING), *complete* (the transaction to a final status) and *ack* (the
message's delete). A table transaction's phase is read from the ``Status`` it writes. A
request made under a named source is counted in the phase of that name (``"sweep"``).

Sources: what made the request, set with :func:`counted_as` around the code that makes it
(``"sweep"``); anything else is ``"loop"``. The hooks run in the task that awaits the
request, so a source set in a task holds for the tasks it starts too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["RequestKinds", "body_size", "counted_as", "endpoints"]

_SOURCE: ContextVar[str] = ContextVar("benchmark_request_source", default="loop")


@contextmanager
def counted_as(source: str) -> Iterator[None]:
    """Count the requests made inside the block (and the tasks it starts) under ``source``."""
    token = _SOURCE.set(source)
    try:
        yield
    finally:
        _SOURCE.reset(token)


def body_size(body: Any) -> int:
    """The bytes of a request body as the SDK holds it (bytes or text; a stream counts 0)."""
    if isinstance(body, bytes | bytearray):
        return len(body)
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    return 0


def endpoints(connection_string: str) -> dict[str, str]:
    """``{"host:port/account": "table" | "queue" | "blob"}`` from a connection string."""
    parts = dict(p.split("=", 1) for p in connection_string.split(";") if "=" in p)
    found = {}
    for service in ("Blob", "Queue", "Table"):
        url = parts.get(f"{service}Endpoint")
        if url:
            split = urlsplit(url)
            found[f"{split.netloc}{split.path.rstrip('/')}"] = service.lower()
    return found


_STATUS: Final = re.compile(rb'"Status":\s*"(\w+)"')
_PHASES: Final = {
    "queue send": "enqueue",
    "table insert": "enqueue",
    "queue receive": "claim",
    "queue delete": "ack",
}
_TABLE_PHASES: Final = {"queued": "enqueue", "running": "claim"}


def phase(kind: str, body: bytes) -> str:
    """The phase of a request of ``kind`` with ``body``."""
    if kind == "table transaction":
        status = _STATUS.search(body)
        if status is None:
            return "other"
        return _TABLE_PHASES.get(status.group(1).decode(), "complete")
    return _PHASES.get(kind, "other")


class RequestKinds:
    """Counts requests as ``"<service> <what>"`` (``queue receive``, ``table
    transaction``...) in ``counts``, by phase in ``phases`` and by source in ``sources``;
    the bytes of their request and response bodies in ``bytes_sent``, ``bytes_received``
    and, by source, ``bytes_by_source``."""

    def __init__(self, connection_string: str) -> None:
        self._services = endpoints(connection_string)
        self.counts: Counter[str] = Counter()
        self.phases: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.bytes_by_source: Counter[str] = Counter()
        self.bytes_sent = 0
        self.bytes_received = 0
        #: Requests and body bytes by source since the start, never reset.
        self.ever: Counter[str] = Counter()
        self.ever_bytes: Counter[str] = Counter()

    def hooks(self) -> dict[str, Any]:
        """The SDK client options that count every request and response."""
        return {"raw_request_hook": self, "raw_response_hook": self.response}

    def _service(self, netloc: str, path: str) -> str:
        for prefix, service in self._services.items():
            if f"{netloc}{path}".startswith(prefix):
                return service
        return "other"

    def kind(self, method: str, url: str) -> str:
        split = urlsplit(url)
        service = self._service(split.netloc, split.path)
        if service == "queue" and "/messages" in split.path:
            what = {"GET": "receive", "POST": "send", "DELETE": "delete", "PUT": "renew"}
            return f"queue {what.get(method, method)}"
        if service == "table" and "$batch" in split.path:
            return "table transaction"
        if service == "table":
            what = {"POST": "insert", "GET": "read", "DELETE": "delete"}
            return f"table {what.get(method, 'update')}"
        return f"{service} {method}"

    def __call__(self, request: Any) -> None:
        http = request.http_request
        kind = self.kind(http.method, http.url)
        self.counts[kind] += 1
        body = http.body if isinstance(http.body, bytes) else b""
        source = _SOURCE.get()
        # A request of the sweep (or any other named source) is no phase of a job.
        self.phases[phase(kind, body) if source == "loop" else source] += 1
        self.sources[source] += 1
        self.ever[source] += 1
        size = body_size(http.body)
        self.bytes_sent += size
        self.bytes_by_source[source] += size
        self.ever_bytes[source] += size

    def response(self, response: Any) -> None:
        """``raw_response_hook``: the response body's bytes (read by then: no request here
        streams its response)."""
        try:
            size = len(response.http_response.body())
        except Exception:  # a streamed body is not read yet: it is not counted
            size = 0
        source = _SOURCE.get()
        self.bytes_received += size
        self.bytes_by_source[source] += size
        self.ever_bytes[source] += size

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def total_bytes(self) -> int:
        return self.bytes_sent + self.bytes_received

    def reset(self) -> None:
        self.counts.clear()
        self.phases.clear()
        self.sources.clear()
        self.bytes_by_source.clear()
        self.bytes_sent = self.bytes_received = 0
