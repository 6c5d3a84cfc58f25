"""Schedules with ScheduleClient: make one, preview it, change it, pause and resume it,
start its job by hand, and a refusal."""

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from queued_jobs import JobApp, ManualClock, MemoryStorage, ScheduleClient
from queued_jobs.errors import InvalidInput

clock = ManualClock(datetime(2026, 3, 27, 12, tzinfo=UTC))  # Friday, noon UTC
app = JobApp(MemoryStorage(), clock=clock)


class Report(BaseModel):
    kind: str


@app.job(name="reports.build")
async def build_report(request: Report) -> str:
    return f"{request.kind} report"


async def main() -> None:
    async with app.client() as client:
        await client.create_storage()
        schedules = ScheduleClient(client)
        nightly = await schedules.create_schedule(
            "reports.build",
            {"kind": "sales"},
            owner="ops",
            name="sales report",
            rule="cron:30 2 * * *",
            time_zone="Europe/Berlin",
        )
        print(f"{nightly.name}: {nightly.rule} in {nightly.time_zone}")
        for slot in await schedules.preview(nightly.id, 3):
            print(f"  {slot.local:%a %Y-%m-%d %H:%M %Z} is {slot.utc:%H:%M} UTC")

        changed = await schedules.update_schedule(nightly.id, rule="cron:0 9 * * MON-FRI")
        print(f"changed to {changed.rule}: next slot {changed.next_slot:%a %d %H:%M} UTC")

        await schedules.pause(nightly.id)
        clock.advance(timedelta(days=7))  # a week passes while it is paused
        resumed = await schedules.resume(nightly.id)
        print(f"resumed a week later: next slot {resumed.next_slot:%a %d %H:%M} UTC")

        job = await schedules.trigger_now(nightly.id)
        print(f"triggered by hand: a {job.job_type} job for {job.owner}, {job.status}")
        print(f"  it says where it came from: {job.custom_data['schedule']['name']!r}")

        try:
            await schedules.create_schedule(
                "reports.build", {"kind": 3}, owner="ops", name="other", rule="every:PT1H"
            )
        except InvalidInput as refused:
            print(f"Refused: {refused}")


asyncio.run(main())
