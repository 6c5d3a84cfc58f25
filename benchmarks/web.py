"""The web API under load, served by ``queued-jobs``' own app on uvicorn in a process of
its own (:mod:`benchmarks.web_server`), driven over HTTP from this process:

- *status read*: ``GET /jobs/{id}`` of stored jobs at concurrency 16, requests/s and p99,
  beside the same server's floor (a fixed answer of a job's size: no authentication, no
  storage), with the storage requests each read costs on Azure;
- *event streams*: 1, 100 and 1,000 open ``/events`` streams (operators': every
  partition), the storage requests per second they cause (flat in the number of streams),
  and the delay from a status change's write to its arrival at each stream, p50 and p99.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from queued_jobs.web.auth import Role, new_api_key

from .app import NOOP, make_app
from .results import Measurement

__all__ = ["web_costs"]

_CONCURRENCY = 16
_STORED = 100
_CHANGES = 20
_PAUSE = 0.25


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Server:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        from tests.support.azurite import free_ports

        self.keys: dict[str, str] = {}
        entries = []
        for name, role in (("user", Role.USER), ("operator", Role.OPERATOR)):
            key, entry = new_api_key("bench" if name == "user" else "ops", {role})
            self.keys[name] = key
            entries.append(entry.to_json())
        [port] = free_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "benchmarks.web_server", json.dumps(spec), str(port),
                   json.dumps(entries)]  # fmt: skip
        self.process = subprocess.Popen(command)

    async def ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            for _ in range(600):
                try:
                    if (await http.get("/bench/floor")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("the benchmark's web server did not answer")

    async def counts(self) -> dict[str, int]:
        async with httpx.AsyncClient(base_url=self.url) as http:
            found: dict[str, int] = (await http.get("/bench/counts")).json()
            return found

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def _reads(
    url: str, paths: Sequence[str], key: str, requests: int
) -> tuple[float, list[float]]:
    """``requests`` GETs of ``paths`` in turn at concurrency 16: requests/s, latencies (ms)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=_CONCURRENCY, max_keepalive_connections=_CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": key}, limits=limits, timeout=60
    ) as http:
        for path in paths[:_CONCURRENCY]:  # warm: connections open, the store's client too
            (await http.get(path)).raise_for_status()
        per_worker = requests // _CONCURRENCY

        async def work(offset: int) -> None:
            for i in range(per_worker):
                began = time.perf_counter()
                response = await http.get(paths[(offset + i) % len(paths)])
                latencies.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(work(w * 7) for w in range(_CONCURRENCY)))
        took = time.perf_counter() - began
    return len(latencies) / took, latencies


async def _status_reads(
    server: _Server, label: str, ids: list[str], requests: int, kind: str
) -> list[Measurement]:
    before = await server.counts()
    ours, latencies = await _reads(
        server.url, [f"/jobs/{i}" for i in ids], server.keys["user"], requests
    )
    after = await server.counts()
    floor, floor_latencies = await _reads(
        server.url, ["/bench/floor"], server.keys["user"], requests
    )
    storage = (after["requests"] - before["requests"]) / (len(latencies) + _CONCURRENCY)
    params: dict[str, Any] = {
        "concurrency": _CONCURRENCY,
        "requests": len(latencies),
        "floor_requests_per_s": round(floor),
        "ratio_to_floor": round(ours / floor, 2),
        "floor_p99_ms": round(_percentile(floor_latencies, 0.99), 2),
    }
    if kind == "azure":
        params["storage_requests_per_read"] = round(storage, 2)
    return [
        Measurement("status read", label, "requests/s", [round(ours, 1)], params=params),
        Measurement(
            "status read p99",
            label,
            "ms",
            [round(_percentile(latencies, 0.99), 2)],
            params={"p50_ms": round(statistics.median(latencies), 2), **params},
        ),
    ]


async def _open_streams(
    url: str, key: str, count: int
) -> tuple[httpx.AsyncClient, list[asyncio.Task[None]], list[list[float]], list[int]]:
    limits = httpx.Limits(max_connections=count + 8, max_keepalive_connections=count + 8)
    http = httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": key}, limits=limits, timeout=httpx.Timeout(120)
    )
    delays: list[list[float]] = [[] for _ in range(count)]
    opened: list[int] = []

    async def listen(index: int) -> None:
        async with http.stream("GET", "/events") as response:
            opened.append(index)
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    change = json.loads(line[6:])
                    changed = datetime.fromisoformat(change["changed_at"]).timestamp()
                    delays[index].append((time.time() - changed) * 1000)

    tasks = [asyncio.create_task(listen(i)) for i in range(count)]
    for _ in range(1200):
        if len(opened) == count:
            break
        await asyncio.sleep(0.05)
    return http, tasks, delays, opened


async def _streams(
    server: _Server, label: str, spec: Mapping[str, Any], count: int, window: float
) -> list[Measurement]:
    http, tasks, delays, opened = await _open_streams(server.url, server.keys["operator"], count)
    try:
        await asyncio.sleep(1.0)
        first, began = await server.counts(), time.perf_counter()
        await asyncio.sleep(window)
        last, took = await server.counts(), time.perf_counter() - began
        app = make_app(spec)
        async with app.client() as client:
            for index in range(_CHANGES):
                await client.queue_job(NOOP, index, owner=f"user{index % 16}")
                await asyncio.sleep(_PAUSE)
        for _ in range(600):
            if all(len(d) >= _CHANGES for d in delays):
                break
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()
    every = [delay for one in delays for delay in one]
    heard = sum(1 for one in delays if len(one) >= _CHANGES)
    params = {
        "streams": count,
        "opened": len(opened),
        "streams_with_every_change": heard,
        "changes": _CHANGES,
        "feed_reads_per_s": round((last["feed_reads"] - first["feed_reads"]) / took, 2),
    }
    results = [
        Measurement(
            "event streams: storage requests",
            label,
            "requests/s",
            [round((last["requests"] - first["requests"]) / took, 2)],
            params=params,
        )
    ]
    if every:
        results += [
            Measurement("event delivery p50", label, "ms", [round(statistics.median(every), 1)],
                        params=params),
            Measurement("event delivery p99", label, "ms", [round(_percentile(every, 0.99), 1)],
                        params=params),
        ]  # fmt: skip
    return results


async def _run(spec: Mapping[str, Any], label: str, quick: bool) -> list[Measurement]:
    app = make_app(spec)
    async with app.client() as client:
        await client.create_storage()
        ids = [(await client.queue_job(NOOP, i, owner="bench")).id for i in range(_STORED)]
    server = _Server(spec)
    try:
        await server.ready()
        results = await _status_reads(server, label, ids, 800 if quick else 4000, spec["backend"])
        for count in (1, 100) if quick else (1, 100, 1000):
            results += await _streams(server, label, spec, count, 4.0 if quick else 10.0)
        return results
    finally:
        server.stop()


def web_costs(spec: Mapping[str, Any], *, quick: bool) -> list[Measurement]:
    """The web API's figures on a fresh store (``spec``: ``benchmarks.app``'s)."""
    kind = "SQLite" if spec["backend"] == "sqlite" else "Azurite"
    return asyncio.run(_run(spec, f"queued-jobs API ({kind})", quick))
