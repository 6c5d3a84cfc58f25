"""The memory store's index names the jobs a listing's filters select, and only them."""

from __future__ import annotations

from queued_jobs.models import JobStatus
from queued_jobs.repositories._memory_index import JobIndex
from queued_jobs.repositories.base import JobQuery

QUEUED, FAILED, RUNNING = JobStatus.QUEUED, JobStatus.FAILED, JobStatus.RUNNING


def test_candidates_are_the_jobs_every_named_filter_holds() -> None:
    index = JobIndex()
    index.add("a", "ada", QUEUED, "t1")
    index.add("b", "ada", FAILED, "t2")
    index.add("c", "bob", FAILED, "t1")
    index.add("d", "bob", RUNNING, "t2")

    assert index.candidates(JobQuery()) is None
    assert index.candidates(JobQuery(owner="ada")) == {"a", "b"}
    assert index.candidates(JobQuery(statuses=frozenset({FAILED, RUNNING}))) == {"b", "c", "d"}
    assert index.candidates(JobQuery(owner="bob", job_type="t1")) == {"c"}
    assert index.candidates(JobQuery(owner="ada", statuses=frozenset({RUNNING}))) == set()
    assert index.candidates(JobQuery(owner="nobody")) == set()


def test_a_job_moved_or_removed_leaves_its_old_entries() -> None:
    index = JobIndex()
    index.add("a", "ada", QUEUED, "t1")
    index.remove("a", "ada", QUEUED, "t1")
    index.add("a", "ada", RUNNING, "t1")

    assert index.candidates(JobQuery(statuses=frozenset({QUEUED}))) == set()
    assert index.candidates(JobQuery(statuses=frozenset({RUNNING}))) == {"a"}
    index.remove("a", "ada", RUNNING, "t1")
    assert index.candidates(JobQuery(owner="ada")) == set()
    assert index._ids == {}
