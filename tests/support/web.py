"""The web API in a process of its own for tests: ``queued-jobs serve`` on a free port with
API keys for a few callers, and a reader of Server-Sent Events."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.azurite import free_ports

__all__ = [
    "CALLERS",
    "ApiServer",
    "SseEvent",
    "events_until_quiet",
    "read_events",
    "start_api_server",
]

ROOT = Path(__file__).resolve().parents[2]
#: The callers every test server knows: name → (owner, roles).
CALLERS: dict[str, tuple[str, list[str]]] = {
    "alice": ("alice", ["user"]),
    "bob": ("bob", ["user"]),
    "reader": ("rita", ["reader"]),
    "operator": ("olga", ["operator"]),
}


@dataclass
class ApiServer:
    base_url: str
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(
        self, caller: str | None, *, timeout: float | httpx.Timeout = 30.0, **options: Any
    ) -> httpx.Client:
        """An HTTP client calling as ``caller`` (``None``: with no credentials)."""
        headers = {} if caller is None else {"X-API-Key": self.keys[caller]}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, **options)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _api_keys() -> tuple[dict[str, str], str]:
    keys, entries = {}, []
    for name, (owner, roles) in CALLERS.items():
        key = f"qj_{secrets.token_urlsafe(32)}"
        keys[name] = key
        digest = hashlib.sha256(key.encode()).hexdigest()
        entries.append({"hash": f"sha256:{digest}", "owner": owner, "roles": roles, "name": name})
    return keys, json.dumps(entries)


def start_api_server(
    app_path: str,
    env: dict[str, str],
    log: Path,
    *,
    auth: str = "api-keys",
    options: tuple[str, ...] = ("--log-level", "warning"),
) -> ApiServer:
    """``python -m queued_jobs serve APP`` with ``env`` and ``options``; returns once it
    answers."""
    [port] = free_ports(1)
    keys, entries = _api_keys()
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "QUEUED_JOBS_WEB_AUTH": auth}
    if "api-keys" in auth:
        full_env["QUEUED_JOBS_API_KEYS"] = entries
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "queued_jobs", "serve", app_path,
             "--port", str(port), *options],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=out,
        )  # fmt: skip
    server = ApiServer(f"http://127.0.0.1:{port}", keys, process, log, full_env)
    deadline = time.monotonic() + 60
    with server.client("operator") as client:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the API server exited: {log.read_text()[-3000:]}")
            try:
                if client.get("/health").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"the API server did not answer: {log.read_text()[-3000:]}")
            time.sleep(0.05)


@dataclass
class SseEvent:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


def read_events(response: httpx.Response) -> Iterator[SseEvent]:
    """The events of a streamed ``text/event-stream`` response, as they arrive (comments,
    the heartbeats, are left out)."""
    event, data, last_id = "message", [], None
    for line in response.iter_lines():
        if line == "":
            if data:
                yield SseEvent(event, "\n".join(data), last_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            last_id = value


def events_until_quiet(response: httpx.Response) -> list[SseEvent]:
    """Every event of a stream until it goes quiet for its client's read timeout."""
    found: list[SseEvent] = []
    try:
        found.extend(read_events(response))
    except httpx.ReadTimeout:
        return found
    raise AssertionError(f"the stream ended instead of going quiet after {found}")
