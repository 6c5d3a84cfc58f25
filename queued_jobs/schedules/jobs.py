"""The job a schedule starts: its options are the schedule's, and it says where it came
from.

Every job a schedule starts, at a slot or triggered by hand, carries
``correlation_id="schedule:<schedule id>"`` and, in its custom data under ``"schedule"``,
the schedule's id and name and the slot it fired for (``None`` when triggered by hand), so
that an operator reading the job sees its origin and a listing can be traced back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import JsonValue

from ..client import JobSpec
from .model import Schedule

__all__ = ["SCHEDULE_DATA_KEY", "schedule_job_spec"]

#: The custom-data key under which a scheduled job names its schedule and slot.
SCHEDULE_DATA_KEY: Final = "schedule"


def schedule_job_spec(
    schedule: Schedule,
    *,
    slot: datetime | None = None,
    job_id: str | None = None,
    run_at: datetime | None = None,
) -> JobSpec:
    """The job ``schedule`` starts for ``slot`` (``None``: triggered by hand), with the id
    ``job_id`` if given (the one its slot marker records) and held until ``run_at``."""
    origin: dict[str, JsonValue] = {
        "id": schedule.id,
        "name": schedule.name,
        "slot": None if slot is None else slot.isoformat(),
    }
    return JobSpec(
        schedule.job_type,
        schedule.request,
        owner=schedule.owner,
        priority=schedule.priority,
        run_at=run_at,
        max_attempts=schedule.max_attempts,
        max_run_time=schedule.max_run_time,
        correlation_id=f"schedule:{schedule.id}",
        tags=schedule.tags,
        custom_data={SCHEDULE_DATA_KEY: origin},
        job_id=job_id,
    )
