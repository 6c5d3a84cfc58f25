"""``queued-jobs demo``: the realistic mix on the embedded backend, as ``make demo`` runs it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

from queued_jobs import JobStatus, SqliteStorage
from queued_jobs.clock import SYSTEM_CLOCK
from queued_jobs.demo.scenario import PLAN, Tracked, problems
from queued_jobs.errors import DuplicateJob
from queued_jobs.files import LocalFileStore
from queued_jobs.models import QueuedJob

QUEUED_JOBS = Path(sys.executable).parent / "queued-jobs"


def stored_jobs(directory: Path) -> list[QueuedJob]:
    async def read() -> list[QueuedJob]:
        repository, broker = SqliteStorage(directory / "demo.db").open(SYSTEM_CLOCK)
        try:
            return (await repository.list_jobs(limit=100)).items
        finally:
            await repository.close()
            await broker.close()

    return asyncio.run(read())


def test_the_demo_runs_every_kind_of_job_to_its_planned_end(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(QUEUED_JOBS), "demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard; how long the demo takes is measured, not tested
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(PLAN)} jobs ended as planned" in run.stdout
    for line in ("PermanentError: line 3: 'bob-at-example'", "3 ✗✗✓", "1 ⊘"):
        assert line in run.stdout
    jobs = stored_jobs(tmp_path / "demo")
    assert Counter(job.status for job in jobs) == {
        JobStatus.SUCCEEDED: 6,
        JobStatus.FAILED: 1,
        JobStatus.CANCELLED: 1,
    }  # the refused duplicate was never stored
    documents = tmp_path / "demo" / "demo.files" / "documents"
    zips = sorted(
        [*(documents / "ada" / "zips").iterdir(), *(documents / "grace" / "zips").iterdir()]
    )
    assert len(zips) == 2
    assert all(path.name in run.stdout for path in zips)


def test_the_demo_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    run = subprocess.run(
        [str(QUEUED_JOBS), "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert run.returncode == 1
    assert "is not empty" in run.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_demo_reports_every_job_that_did_not_end_as_planned(tmp_path: Path) -> None:
    documents = LocalFileStore(tmp_path, "documents")
    now = SYSTEM_CLOCK.now()
    tracked = []
    for planned in PLAN:
        if planned.expect is None:
            tracked.append(Tracked(planned))  # not refused
            continue
        job = QueuedJob.new(owner=planned.owner, job_type=planned.job_type, now=now)
        tracked.append(Tracked(planned, job.model_copy(update={"status": JobStatus.SUCCEEDED})))

    found = problems(tracked, documents)

    assert "Import contacts (bad row): succeeded, expected failed" in found
    assert "Rebuild the search index: succeeded, expected cancelled" in found
    assert "Bill November again: was not refused as a duplicate" in found
    assert "Remind Ada in 3 s: started before its delay was over" in found
    assert "Zip November invoices: has no zip result" in found
    assert "Sync exchange rates (flaky): 0 attempts, expected 3" in found


def test_a_refusal_naming_another_job_is_reported(tmp_path: Path) -> None:
    billing = [p for p in PLAN if p.options.get("unique_key")]
    first = QueuedJob.new(owner="ops", job_type=billing[0].job_type)
    other = QueuedJob.new(owner="ops", job_type=billing[0].job_type)
    tracked = [
        Tracked(billing[0], first),
        Tracked(billing[1], refused=DuplicateJob("billing-2026-11", other.id, other)),
    ]

    found = problems(tracked, LocalFileStore(tmp_path, "documents"))

    assert "Bill November again: refused, but naming the wrong job" in found
