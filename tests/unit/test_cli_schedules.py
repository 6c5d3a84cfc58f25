"""``queued-jobs schedules`` against a SQLite app (``tests/cli_app.py``): a schedule made,
read, changed, paused, resumed, triggered and deleted; rules previewed before they are
stored; bad and hostile input refused in a sentence."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from queued_jobs.schedules import Schedule
from tests.support.cli import Invoke
from tests.support.waiting import PATIENCE

ROOT = Path(__file__).resolve().parents[2]

HOSTILE = "\x1b[2J\x1b[31mred\x1b[0m \u202eevil\u202c [bold]markup[/bold]"


def _create(invoke: Invoke, *extra: str, name: str = "morning") -> dict[str, Any]:
    result = invoke(
        "schedules", "create", "greet", '{"name": "Ada"}', "--owner", "alice", "--name", name,
        "--rule", "cron:0 9 * * mon-fri", "--time-zone", "Europe/Paris", "--json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    made: dict[str, Any] = json.loads(result.output)
    return made


def test_a_schedule_is_made_listed_and_shown_in_its_own_time_zone(invoke: Invoke) -> None:
    made = _create(invoke, "--tag", "daily", "--overlap", "skip")
    assert made["rule"] == "cron:0 9 * * MON-FRI"
    assert made["request"] == {"name": "Ada"}
    assert (made["overlap"], made["tags"], made["paused"]) == ("skip", ["daily"], False)
    next_slot = datetime.fromisoformat(made["next_slot"])
    assert next_slot.minute == 0
    assert next_slot.hour in (7, 8)  # 09:00 in Paris, summer or winter

    listed = invoke("schedules", "list")
    assert made["id"] in listed.output
    assert "Europe/Paris" in listed.output
    assert " 09:00 CE" in listed.output  # CET or CEST
    assert json.loads(invoke("schedules", "list", "--owner", "bob", "--json").output) == []

    shown = invoke("schedules", "show", made["id"])
    assert shown.exit_code == 0
    assert "next slots" in shown.output
    assert shown.output.count(" 09:00 CE") >= 6  # the next slot and five to come
    assert "fired slots" not in shown.output


def test_a_rule_not_stored_yet_is_previewed_in_local_time_and_utc(invoke: Invoke) -> None:
    result = invoke(
        "schedules", "preview", "--rule", "cron:0 9 * * MON-FRI", "--time-zone", "Europe/Paris",
        "--count", "5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    slots = json.loads(result.output)
    assert len(slots) == 5
    for slot in slots:
        local, utc = datetime.fromisoformat(slot["local"]), datetime.fromisoformat(slot["utc"])
        assert local == utc
        assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True)
        assert slot["time_zone"] == "Europe/Paris"
    table = invoke("schedules", "preview", "--rule", "every:PT20M", "--count", "3")
    assert table.output.count("UTC") >= 4  # three slots and the heading


def test_a_change_pause_resume_and_trigger_are_said_in_a_line(invoke: Invoke) -> None:
    made = _create(invoke)
    changed = json.loads(
        invoke(
            "schedules", "update", made["id"], "--rule", "every:PT20M", "--name", "often",
            "--priority", "high", "--json",
        ).output
    )  # fmt: skip
    assert (changed["rule"], changed["name"], changed["priority"]) == (
        "every:PT20M",
        "often",
        "high",
    )
    assert datetime.fromisoformat(changed["next_slot"]).minute in (0, 20, 40)

    assert invoke("schedules", "pause", made["id"]).output == f"paused schedule {made['id']}\n"
    paused = json.loads(invoke("schedules", "show", made["id"], "--json").output)
    assert paused["paused"] is True
    resumed = invoke("schedules", "resume", made["id"])
    assert resumed.output.startswith(f"resumed schedule {made['id']}; its next slot: ")

    job_id = invoke("schedules", "trigger", made["id"]).output.strip()
    job = json.loads(invoke("status", job_id, "--json").output)
    assert job["correlation_id"] == f"schedule:{made['id']}"
    assert job["custom_data"]["schedule"]["slot"] is None
    assert "has fired no slot yet" in invoke("schedules", "slots", made["id"]).output
    assert json.loads(invoke("schedules", "slots", made["id"], "--json").output) == []


def test_a_deleted_schedule_is_gone_and_asked_for_first(invoke: Invoke) -> None:
    made = _create(invoke)
    kept = invoke("schedules", "delete", made["id"], input="n\n")
    assert kept.exit_code == 1
    assert invoke("schedules", "show", made["id"]).exit_code == 0
    deleted = invoke("schedules", "delete", made["id"], "--yes")
    assert deleted.output == f"deleted schedule {made['id']}\n"
    gone = invoke("schedules", "show", made["id"])
    assert gone.exit_code == 1
    assert "no schedule with id" in gone.output
    assert invoke("schedules", "delete", made["id"], "--yes").exit_code == 1


def test_bad_input_is_refused_in_a_sentence_and_nothing_is_stored(invoke: Invoke) -> None:
    base = ["schedules", "create", "greet", '{"name": "Ada"}', "--owner", "alice", "--name", "x"]
    refusals = [
        ([*base, "--rule", "cron:61 * * * *"], "minute"),
        ([*base, "--rule", "weekly"], "does not start with a kind"),
        ([*base, "--rule", "cron:0 0 30 2 *"], "never fires"),
        ([*base, "--rule", "cron:" + "1" * 3000], "at most 2,000"),
        ([*base, "--rule", "every:PT1H", "--time-zone", "Mars/Olympus"], "unknown time zone"),
        ([*base, "--rule", "every:PT1H", "--time-zone", "x" * 100], "at most 64"),
        ([*base, "--rule", "every:PT1H", "--max-run-time", "forever"], "not a duration"),
        ([*base, "--rule", "every:PT1H", "--catch-up", "never"], "'never' is not one of"),
        (["schedules", "create", "greet", '{"name": 1}', "--owner", "a", "--name", "x",
          "--rule", "every:PT1H"], "invalid request for job type 'greet'"),
        (["schedules", "create", "greet", "{", "--owner", "a", "--name", "x",
          "--rule", "every:PT1H"], "not valid JSON"),
        (["schedules", "create", "nope", "--owner", "a", "--name", "x", "--rule", "every:PT1H"],
         "no job type 'nope'"),
        (["schedules", "preview"], "give a SCHEDULE_ID or a --rule"),
        (["schedules", "preview", "--rule", "every:PT1H", "--count", "0"], "--count"),
        (["schedules", "update", "0" * 29], "nothing to change"),
    ]  # fmt: skip
    for args, said in refusals:
        result = invoke(*args)
        assert result.exit_code == 2, (args[-2:], result.output)
        assert said in result.output, (args[-2:], result.output)
    assert invoke("schedules", "list").output == "no schedules\n"


def test_hostile_text_reaches_the_terminal_as_escapes(invoke: Invoke) -> None:
    made = _create(invoke, name=HOSTILE.replace("\x1b", ""))  # a name holds no control
    listed = invoke("schedules", "list").output
    assert "[bold]markup[/bold]" in listed  # shown as it is, not read as markup
    assert "\u202e" not in listed
    for args in (["show", HOSTILE], ["pause", HOSTILE], ["slots", HOSTILE + "x" * 5000]):
        result = invoke("schedules", *args)
        assert result.exit_code == 1
        assert "\x1b" not in result.output
        assert "\u202e" not in result.output
        assert len(result.output) < 400
    with_owner = invoke(
        "schedules", "create", "greet", '{"name": "Ada"}', "--owner", HOSTILE, "--name", "n",
        "--rule", "every:PT1H",
    )  # fmt: skip
    for output in (with_owner.output, invoke("schedules", "list").output):
        assert "\x1b" not in output
        assert "\u202e" not in output
    assert made["id"] in listed


def test_the_worker_command_fires_a_due_schedule_and_runs_its_job(invoke: Invoke) -> None:
    from tests.cli_app import app

    async def due_now() -> str:
        async with app.client() as client:
            await client.create_storage()
            slot = client.clock.now().replace(second=0, microsecond=0)  # a minute ago at most
            made = Schedule.new(
                owner="alice", name="now", job_type="greet", request={"name": "Ada"},
                rule=f"every:PT1H@{slot:%Y-%m-%dT%H:%M}", next_slot=slot, now=slot,
            )  # fmt: skip
            return (await client.repository.schedules.insert_schedule(made)).id

    async def its_job(schedule_id: str) -> dict[str, Any] | None:
        async with app.client() as client:
            jobs = (await client.list_jobs(owner="alice")).items
        return next((j.model_dump(mode="json") for j in jobs if j.status == "succeeded"), None)

    schedule_id = asyncio.run(due_now())
    process = subprocess.Popen(
        [sys.executable, "-m", "queued_jobs", "worker"],  # the app from QUEUED_JOBS_APP
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE
        while (job := asyncio.run(its_job(schedule_id))) is None:
            assert time.monotonic() < deadline, "the worker fired nothing"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert job["correlation_id"] == f"schedule:{schedule_id}"
    assert job["result"] == "Hello, Ada!"
    assert process.returncode == 0, log
