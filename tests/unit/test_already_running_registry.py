"""Declaring what a job type does when another job of its type runs (``already_running``),
the error a refused job gets, and the lease name of a type."""

from __future__ import annotations

import pytest

import queued_jobs
from queued_jobs import AlreadyRunning, JobAlreadyRunning, PermanentError
from queued_jobs.app import JobApp, MemoryStorage
from queued_jobs.errors import ConfigurationError
from queued_jobs.execution.already_running import type_lease_name
from queued_jobs.repositories.base import check_lease_name
from queued_jobs.runner import JobRegistry, JobRunner


def test_a_runner_class_and_a_function_carry_their_policy_into_the_definition() -> None:
    registry = JobRegistry()

    @registry.register
    class Nightly(JobRunner[None, None]):
        job_type = "billing.nightly"
        already_running = AlreadyRunning.SKIP

    class Plain(JobRunner[None, None]):
        job_type = "plain"

    registry.register(Plain)

    @registry.job(name="index.rebuild", already_running=AlreadyRunning.REPLACE)
    async def rebuild(request: None) -> None: ...

    @registry.job(name="by.text", already_running="refuse")  # type: ignore[arg-type]
    def by_text(request: None) -> None: ...

    assert registry.get("billing.nightly").already_running is AlreadyRunning.SKIP
    assert registry.get("plain").already_running is AlreadyRunning.ALLOW
    assert registry.get("index.rebuild").already_running is AlreadyRunning.REPLACE
    assert registry.get("by.text").already_running is AlreadyRunning.REFUSE


def test_an_app_registers_with_a_policy_and_refuses_one_that_is_not() -> None:
    app = JobApp(MemoryStorage())

    @app.job(name="reports.monthly", already_running=AlreadyRunning.REFUSE)
    async def monthly(request: None) -> None: ...

    assert app.registry.get("reports.monthly").already_running is AlreadyRunning.REFUSE
    with pytest.raises(ConfigurationError, match="'allow', 'refuse', 'skip', 'replace'"):
        app.job(monthly, name="reports.other", already_running="queue")  # type: ignore[arg-type]

    class Wrong(JobRunner[None, None]):
        job_type = "wrong"
        already_running = "wait"  # type: ignore[assignment]

    with pytest.raises(ConfigurationError, match="already_running"):
        app.register(Wrong)


def test_job_already_running_is_permanent_and_names_the_type_and_the_running_job() -> None:
    error = JobAlreadyRunning("billing.nightly", "0192aabbccddeeff00112233445")

    assert isinstance(error, PermanentError)
    assert (error.job_type, error.running_job_id) == (
        "billing.nightly",
        "0192aabbccddeeff00112233445",
    )
    assert "'billing.nightly'" in str(error)
    assert "0192aabbccddeeff00112233445" in str(error)
    assert queued_jobs.JobAlreadyRunning is JobAlreadyRunning
    assert "JobAlreadyRunning" in queued_jobs.__all__
    assert "JobAlreadyRunning" in queued_jobs.errors.__doc__  # drawn in the tree


@pytest.mark.parametrize("job_type", ["t", "Billing.Nightly", "a:b-c_d." * 40, "x" * 900])
def test_a_job_types_lease_name_is_one_every_store_can_key(job_type: str) -> None:
    name = type_lease_name(job_type)

    check_lease_name(name)
    assert name.startswith("running-")
    assert type_lease_name(job_type + "2") != name
