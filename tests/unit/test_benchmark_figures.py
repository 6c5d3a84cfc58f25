"""The benchmark's own arithmetic: how drains are timed, what an idle Functions app's
schedule and polling cost, and that ours and the raw SDK loop get the same work."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import benchmarks.__main__ as bench
from benchmarks.functions_idle import max_polling_interval, schedule_period
from benchmarks.report import write_chart
from benchmarks.results import Measurement
from benchmarks.timing import DrainClock
from benchmarks.worker import parse


def test_a_drain_clock_stops_at_the_last_jobs_completion_and_not_at_a_duplicate() -> None:
    clock = DrainClock(2)
    clock.begin()
    clock.completed()
    assert clock.seconds is None

    clock.completed()
    stopped = clock.seconds
    clock.completed()  # a duplicate delivery, after the drain

    assert stopped is not None
    assert stopped > 0
    assert clock.seconds == stopped
    assert clock.rate() == 2 / stopped


def test_a_drain_that_did_not_finish_has_no_rate() -> None:
    clock = DrainClock(3)
    clock.begin()
    clock.completed()

    with pytest.raises(RuntimeError, match="1 of 3 jobs"):
        clock.rate()


def test_a_drain_clock_needs_a_job() -> None:
    with pytest.raises(ValueError, match="at least one job"):
        DrainClock(0)


@pytest.mark.parametrize(
    ("schedule", "period"),
    [
        ("0 */1 * * * *", timedelta(minutes=1)),
        ("*/30 * * * * *", timedelta(seconds=30)),
        ("0 0 * * * *", timedelta(hours=1)),
        ("0,30 */5 * * * *", timedelta(seconds=150)),
        ("0 0 9-17 * * *", timedelta(hours=24) / 9),
    ],
)
def test_a_timer_schedule_gives_the_mean_time_between_its_runs(
    schedule: str, period: timedelta
) -> None:
    assert schedule_period(schedule) == period


@pytest.mark.parametrize(
    "schedule", ["0 0 0 1 * *", "* * * * *", "0 61 * * * *", "0 */0 * * * *", "MON * * * * *"]
)
def test_a_timer_schedule_it_cannot_average_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # int() and ours both say which part
        schedule_period(schedule)


@pytest.mark.parametrize(
    ("queues", "interval"),
    [
        ({"maxPollingInterval": "00:00:02"}, timedelta(seconds=2)),
        ({"maxPollingInterval": "1.00:00:00.5"}, timedelta(days=1, seconds=0.5)),
        ({"maxPollingInterval": 1500}, timedelta(milliseconds=1500)),
        ({}, timedelta(minutes=1)),
    ],
)
def test_the_hosts_polling_interval_is_read_from_host_json_or_defaults_to_a_minute(
    queues: dict[str, Any], interval: timedelta
) -> None:
    assert max_polling_interval({"extensions": {"queues": queues}}) == interval


@pytest.mark.parametrize("value", ["two seconds", "00:00:00", -5, True, [2]])
def test_a_polling_interval_that_is_no_positive_timespan_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="maxPollingInterval"):
        max_polling_interval({"extensions": {"queues": {"maxPollingInterval": value}}})


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf"])
def test_the_benchmark_worker_never_turns_its_sweep_off(interval: str) -> None:
    with pytest.raises(SystemExit):
        parse(["{}", "--sweep-interval", interval])


def test_the_benchmark_worker_sweeps_at_the_workers_own_interval_by_default() -> None:
    assert parse(["{}"]).sweep_interval == bench.WorkerSettings().sweep_interval.total_seconds()


@pytest.mark.parametrize("quick", [True, False])
def test_ours_and_the_raw_loop_drain_the_same_jobs_at_the_same_concurrencies(
    quick: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ours: dict[str, Any] = {}
    raw: dict[str, Any] = {}

    def run_ours(backend: Any, **options: Any) -> list[Measurement]:
        ours.update(options)
        return []

    def run_raw_sdk(connection: str, **options: Any) -> list[Measurement]:
        raw.update(options)
        return []

    monkeypatch.setattr(bench, "run_ours", run_ours)
    monkeypatch.setattr("benchmarks.raw_sdk.run_raw_sdk", run_raw_sdk)
    for part in ("_costs_per_job", "_idle_costs", "_sweep_costs"):
        monkeypatch.setattr(bench, part, lambda *arguments: [])

    bench._ours_azure(tmp_path, 1, "UseDevelopmentStorage=true", quick)
    bench._raw_azure("UseDevelopmentStorage=true", 1, quick, False)

    assert set(ours["drain_jobs"]) == set(raw["concurrencies"])
    assert set(ours["drain_jobs"].values()) == {raw["jobs"]}


def test_without_matplotlib_the_run_ends_without_a_chart_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # its import now raises
    drain = Measurement("drain", "queued-jobs (SQLite)", "jobs/s", [1000.0])

    assert write_chart(tmp_path / "drain.png", [drain]) is False
    assert not (tmp_path / "drain.png").exists()
