"""What an idle Functions app costs in storage requests, from its blueprint and host.json.

The Functions host polls every queue trigger's queue (each priority band and its poison
queue) once per ``maxPollingInterval`` when they are empty: that part is computed from
``host.json`` and the blueprint's bindings, since the host itself cannot run here. Every
timer function (the sweep and whatever else the blueprint schedules) is called directly,
as the host calls it, on an empty store, and its requests and body bytes are counted; each
counts once per period of its NCRONTAB schedule. The host's own storage use (its timer
locks and schedule status blobs, its keys) is not included.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.timer import TimerRequest

from queued_jobs.functions import FunctionsHost, job_blueprint

from .app import make_app
from .requests import RequestKinds, counted_as

__all__ = ["HOST_JSON", "functions_idle", "max_polling_interval", "schedule_period"]

HOST_JSON = Path(__file__).resolve().parents[1] / "function_app" / "host.json"
#: The queue extension's ``maxPollingInterval`` when host.json does not set one.
_DEFAULT_POLLING = timedelta(minutes=1)
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
#: NCRONTAB fields: second, minute, hour (day, month and weekday must be ``*``).
_RANGES = ((0, 59), (0, 59), (0, 23))


def max_polling_interval(host_json: Mapping[str, Any]) -> timedelta:
    """``extensions.queues.maxPollingInterval`` of a parsed host.json (a ``[d.]hh:mm:ss``
    timespan or milliseconds), or the extension's default of one minute."""
    value = host_json.get("extensions", {}).get("queues", {}).get("maxPollingInterval")
    if value is None:
        return _DEFAULT_POLLING
    if isinstance(value, int | float) and not isinstance(value, bool):
        interval = timedelta(milliseconds=value)
    elif isinstance(value, str) and (match := _TIMESPAN.match(value.strip())):
        days, hours, minutes, seconds = match.groups()
        interval = timedelta(
            days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds)
        )
    else:
        raise ValueError(f"maxPollingInterval {value!r} is not a timespan like 00:00:02")
    if interval <= timedelta(0):
        raise ValueError(f"maxPollingInterval {value!r} must be more than zero")
    return interval


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = int(first), int(last)
        else:
            start = int(base)
            end = high if step_text else start
        if step < 1 or not low <= start <= end <= high:
            raise ValueError(f"{part!r} is not a field between {low} and {high}")
        values.update(range(start, end + 1, step))
    return values


def schedule_period(schedule: str) -> timedelta:
    """The mean time between runs of an NCRONTAB ``schedule`` (six fields, seconds first)
    whose day, month and weekday are ``*``: a day divided by its runs in a day."""
    fields = schedule.split()
    if len(fields) != 6 or any(field != "*" for field in fields[3:]):
        raise ValueError(
            f"schedule {schedule!r}: only six-field schedules with day, month and weekday "
            "'*' are understood here"
        )
    runs = 1
    for text, (low, high) in zip(fields[:3], _RANGES, strict=True):
        runs *= len(_field(text, low, high))
    return timedelta(days=1) / runs


def _bindings(function: Any) -> list[dict[str, Any]]:
    bindings: list[dict[str, Any]] = json.loads(function.get_function_json())["bindings"]
    return bindings


async def _timer_costs(spec: Mapping[str, Any], calls: int) -> dict[str, Any]:
    kinds = RequestKinds(spec["connection"])
    app = make_app(spec, client_options=kinds.hooks())
    async with app.client() as client:
        await client.create_storage()
    host = FunctionsHost(app)
    function_app = func.FunctionApp()
    function_app.register_functions(job_blueprint(app, host=host))
    queue_triggers = 0
    timers: dict[str, dict[str, Any]] = {}
    try:
        for function in function_app.get_functions():
            types = {binding["type"]: binding for binding in _bindings(function)}
            if "queueTrigger" in types:
                queue_triggers += 1
            if "timerTrigger" in types:
                name = str(function.get_function_name())
                user_function = function.get_user_function()
                costs = []
                for _ in range(calls):
                    kinds.reset()
                    with counted_as(name):
                        await user_function(TimerRequest(past_due=False))
                    costs.append((kinds.total, kinds.total_bytes))
                timers[name] = {
                    "schedule": types["timerTrigger"]["schedule"],
                    "costs": costs,
                }
    finally:
        await host.close()
    return {"queue_triggers": queue_triggers, "timers": timers}


def functions_idle(spec: Mapping[str, Any], *, calls: int = 3) -> dict[str, Any]:
    """An idle Functions app's requests per second on the empty store of ``spec``, with
    its parts: ``polling`` (queue triggers / ``maxPollingInterval`` of host.json) and, per
    timer function, its schedule, period and the requests and bytes of each call (the
    first call also reads what a new instance reads once; the median of the calls counts)."""
    host_json = json.loads(HOST_JSON.read_text())
    polling_interval = max_polling_interval(host_json)
    found = asyncio.run(_timer_costs(spec, calls))
    polling = found["queue_triggers"] / polling_interval.total_seconds()
    total = polling
    for timer in found["timers"].values():
        period = schedule_period(timer["schedule"]).total_seconds()
        timer["period_s"] = period
        timer["requests"] = statistics.median(cost[0] for cost in timer["costs"])
        timer["bytes"] = statistics.median(cost[1] for cost in timer["costs"])
        total += timer["requests"] / period
    return {
        "total": total,
        "polling": polling,
        "queue_triggers": found["queue_triggers"],
        "max_polling_interval_s": polling_interval.total_seconds(),
        "timers": found["timers"],
    }
