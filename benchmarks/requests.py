"""Count Azure Storage requests by kind and by phase of a job (``raw_request_hook`` on
every SDK client).

Phases: *enqueue* (the job's rows and its message), *claim* (the receive and the
transaction to RUNNING), *complete* (the transaction to a final status) and *ack* (the
message's delete). A table transaction's phase is read from the ``Status`` it writes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["RequestKinds", "endpoints"]


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
    transaction``...) in ``counts`` and by phase in ``phases``."""

    def __init__(self, connection_string: str) -> None:
        self._services = endpoints(connection_string)
        self.counts: Counter[str] = Counter()
        self.phases: Counter[str] = Counter()

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
        self.phases[phase(kind, body)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()
        self.phases.clear()
