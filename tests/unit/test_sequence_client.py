"""The sequence client's purge, and its sync twin (``SyncJobClient.sequences``), which has
the same verbs with the same arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import (
    JobApp,
    MemoryStorage,
    SequenceClient,
    SequenceStatus,
    SqliteStorage,
    SyncJobClient,
)
from queued_jobs.errors import InvalidInput, SequenceNotFound

STEPS = [{"jobs": [{"job_type": "noop", "request": {}}]}]


def build(app: JobApp) -> JobApp:
    @app.job(name="noop")
    async def noop(request: dict[str, Any]) -> None:
        return None

    return app


async def test_a_purge_deletes_what_ended_before_the_cutoff_up_to_its_limit() -> None:
    async with build(JobApp(MemoryStorage())).client() as client:
        sequences = SequenceClient(client)
        made = [await sequences.start(STEPS, owner="ada", name=f"n{i}") for i in range(4)]
        for sequence in made[:3]:
            await sequences.cancel(sequence.id)
        later = datetime.now(UTC) + timedelta(seconds=1)

        for bad in (0, -1, True, 1.5):
            with pytest.raises(InvalidInput):
                await sequences.purge(ended_before=later, limit=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await sequences.purge(ended_before=later.replace(tzinfo=None))
        assert await sequences.purge(ended_before=later, limit=2) == 2
        assert await sequences.purge(ended_before=later) == 1
        assert await sequences.purge(ended_before=later) == 0
        assert [s.id for s in (await sequences.list()).items] == [made[3].id]
        assert len((await client.list_jobs()).items) == 4  # their jobs stay


def test_the_sync_twin_has_the_same_verbs(tmp_path: Path) -> None:
    app = build(JobApp(SqliteStorage(tmp_path / "jobs.db")))
    with SyncJobClient(lambda: app.client()) as client:
        client.create_storage()
        sequences = client.sequences
        started = sequences.start(STEPS, owner="ada", name="one", max_iterations=2)
        assert sequences.get(started.id).name == "one"
        assert [s.id for s in sequences.list(owner="ada").items] == [started.id]
        cancelled = sequences.cancel(started.id, reason="not needed")
        assert (cancelled.status, cancelled.reason) == (SequenceStatus.CANCELLED, "not needed")
        assert sequences.purge(ended_before=datetime.now(UTC) + timedelta(seconds=1)) == 1
        with pytest.raises(SequenceNotFound):
            sequences.get(started.id)
