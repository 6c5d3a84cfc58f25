"""``Presence`` values and the recorder's time gate, without a host around them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.errors import InvalidInput
from queued_jobs.execution.presence import PresenceRecorder
from queued_jobs.models import Presence, PresenceKind
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.repositories.sqlite import SqliteJobRepository

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_a_presence_reads_back_from_its_document() -> None:
    presence = Presence("box:1", "functions", NOW, NOW, "1.0", {"running": 2})  # type: ignore[arg-type]

    assert presence.kind is PresenceKind.FUNCTIONS
    assert Presence.from_json(presence.to_json()) == presence


@pytest.mark.parametrize(
    "doc",
    [None, "", "not json", "[]", '{"host": "box:1"}', '{"host": "", "kind": "worker"}'],
)
def test_a_document_that_holds_no_presence_reads_as_none(doc: str | None) -> None:
    assert Presence.from_json(doc) is None


def test_a_presence_of_an_unknown_kind_or_with_naive_times_is_refused() -> None:
    with pytest.raises(InvalidInput, match="kind"):
        Presence("box:1", "robot", NOW, NOW, "1.0")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="timezone-aware"):
        Presence("box:1", PresenceKind.WORKER, NOW, datetime(2030, 1, 1), "1.0")


def test_a_presences_details_are_its_own() -> None:
    told = {"running": 1}
    presence = Presence("box:1", PresenceKind.WORKER, NOW, NOW, "1.0", told)
    told["running"] = 5

    assert presence.details == {"running": 1}
    with pytest.raises(TypeError):
        presence.details["running"] = 2  # type: ignore[index]


async def test_the_gate_opens_once_per_interval_and_again_if_the_clock_goes_back() -> None:
    clock = ManualClock(NOW)
    recorder = PresenceRecorder(
        MemoryJobRepository(clock=clock),
        host="box:1",
        kind=PresenceKind.FUNCTIONS,
        every=timedelta(minutes=1),
        clock=clock,
    )
    assert await recorder.save_if_due(dict)
    assert not await recorder.save_if_due(dict)
    clock.advance(59)
    assert not recorder.due()
    clock.advance(1)
    assert recorder.due()

    recorder._tried_at = NOW + timedelta(hours=1)  # saved by a clock since set back

    assert recorder.due()


async def test_a_row_that_holds_no_presence_is_left_out_of_a_listing(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    repository = SqliteJobRepository(path)
    try:
        kept = Presence("box:1", PresenceKind.WORKER, NOW, NOW, "1.0")
        await repository.save_presence(kept)
        raw = sqlite3.connect(path)
        raw.execute(
            "INSERT INTO presences (host, seen_at, doc) VALUES ('bad:2', ?, '{\"host\"')",
            (4_000_000_000_000_000,),
        )
        raw.commit()
        raw.close()

        assert await repository.list_presences(seen_since=NOW) == [kept]
        assert await repository.purge_presences(seen_before=NOW + timedelta(days=100 * 366)) == 2
    finally:
        await repository.close()
