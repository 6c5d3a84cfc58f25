"""Count Azure Storage requests by kind (``raw_request_hook`` on every SDK client)."""

from __future__ import annotations

from collections import Counter
from typing import Any
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


class RequestKinds:
    """Counts requests as ``"<service> <what>"``: ``queue receive``, ``table transaction``..."""

    def __init__(self, connection_string: str) -> None:
        self._services = endpoints(connection_string)
        self.counts: Counter[str] = Counter()

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
        self.counts[self.kind(http.method, http.url)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()
