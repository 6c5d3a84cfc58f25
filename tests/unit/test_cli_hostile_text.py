"""Text from jobs cannot drive the operator's terminal: escape sequences, controls, C1
codes and bidirectional overrides in a job's error, progress, result, owner or tags are
shown as visible escapes, and rich markup in them is shown as written. JSON output escapes
them too and still reads back as the data (``tests/cli_app.py``)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import QueuedJob
from queued_jobs._cli_views import json_text, printable
from queued_jobs.queues.sqlite import SqliteQueueBroker
from tests import cli_app
from tests.support.cli import Invoke

OSC8_LINK = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = (
    f"\x1b[2Jcleared {OSC8_LINK} \rfake \x9b31m \u202etxet\u202c \u2066iso\u2069 "
    "[red]markup[/red] [link=http://evil]x[/link]\x7f\x07\nline two"
)
ROOT = Path(__file__).resolve().parents[2]
#: What may never reach the terminal raw: C0 controls but the newline, DEL, C1, bidi.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Allowed by owners and tags (no controls there), still able to reorder or fake text.
SNEAKY = "eve\u202e[red]x[/red]"


def finished(job_type: str, request: Any, *, owner: str = SNEAKY) -> QueuedJob:
    async def run() -> QueuedJob:
        async with cli_app.app.client(inline=True) as client:
            return await client.queue_job(job_type, request, owner=owner, tags=[SNEAKY])

    return asyncio.run(run())


def assert_safe(output: str) -> None:
    assert RAW.findall(output) == []
    assert "[red]markup[/red]" in output  # shown as written, not read as markup
    assert "\\x1b[2Jcleared" in output
    assert "\\x1b]8;;http://evil" in output
    assert "\\u202etxet" in output


def test_printable_escapes_every_character_that_could_rewrite_a_terminal() -> None:
    shown = printable(HOSTILE, keep_newlines=True)

    assert RAW.findall(shown) == []
    for escape in ("\\x1b[2J", "\\x0dfake", "\\x9b31m", "\\u202e", "\\u2066", "\\x7f", "\\x07"):
        assert escape in shown
    assert "\nline two" in shown
    assert "\\x0aline two" in printable(HOSTILE)
    assert printable("plain text, ünïcode ✓ ジョブ\u00a0") == "plain text, ünïcode ✓ ジョブ\u00a0"


def test_status_shows_a_hostile_error_progress_owner_and_tags_as_visible_escapes(
    invoke: Invoke,
) -> None:
    job = finished("mimic", HOSTILE)

    result = invoke("status", job.id)

    assert result.exit_code == 0, result.output
    assert_safe(result.output)
    assert "eve\\u202e[red]x[/red]" in result.output  # owner and tag
    assert "\n" + " " * 12 + "line two" in result.output  # a second line, indented


def test_waiting_on_a_job_shows_its_hostile_progress_and_error_safely(invoke: Invoke) -> None:
    job = finished("mimic", HOSTILE)

    result = invoke("status", job.id, "--wait")

    assert result.exit_code == 1
    assert_safe(result.output)


def test_status_shows_a_hostile_result_safely(invoke: Invoke) -> None:
    job = finished("anyreq", {"note": HOSTILE, HOSTILE: 1})

    result = invoke("status", job.id)

    assert result.exit_code == 0, result.output
    assert RAW.findall(result.output) == []
    assert "[red]markup[/red]" in result.output


def test_the_job_list_shows_hostile_owners_safely(invoke: Invoke) -> None:
    finished("mimic", HOSTILE)

    result = invoke("list")

    assert result.exit_code == 0, result.output
    assert RAW.findall(result.output) == []
    assert "eve\\u202e[red]x[/red]" in result.output


@pytest.mark.parametrize("command", [["status", "{id}", "--json"], ["list", "--json"]])
def test_json_output_escapes_hostile_text_and_reads_back_as_the_data(
    invoke: Invoke, command: list[str]
) -> None:
    job = finished("mimic", HOSTILE)

    result = invoke(*(part.format(id=job.id) for part in command))

    assert result.exit_code == 0, result.output
    assert RAW.findall(result.stdout) == []
    assert result.stdout.isascii()
    parsed = json.loads(result.stdout)
    record = parsed if isinstance(parsed, dict) else parsed[0]
    assert record["error"]["message"] == HOSTILE
    assert record["progress"]["message"] == HOSTILE
    assert record["owner"] == SNEAKY


def test_a_dead_letter_shown_as_json_escapes_every_control(invoke: Invoke, database: Path) -> None:
    async def dead_letter() -> str:
        broker = SqliteQueueBroker(database)
        try:
            band = broker.queue("jobs")
            await band.create()
            await band.send(HOSTILE)
            [message] = await band.receive()
            await band.dead_letter(message)
            [letter] = await band.dead_letter_queue().peek()
            return letter.id
        finally:
            await broker.close()

    letter_id = asyncio.run(dead_letter())

    result = invoke("dead-letters", "show", letter_id, "--json")

    assert result.exit_code == 0, result.output
    assert RAW.findall(result.stdout) == []
    assert json.loads(result.stdout)["body"] == HOSTILE


def test_json_text_escapes_every_character_beyond_printable_ascii() -> None:
    text = json_text({"del": "\x7f", "c1": "\x9b", "bidi": "\u202e"})

    assert text.isascii()
    assert "\x7f" not in text
    assert json.loads(text) == {"del": "\x7f", "c1": "\x9b", "bidi": "\u202e"}


SHOUT = """
import logging, sys
from queued_jobs.cli import cli

@cli.command("shout")
def shout() -> None:
    logging.getLogger("queued_jobs.shout").warning("a hook failed: %s", sys.argv[1])

cli(["shout"], prog_name="queued-jobs")
"""


def test_log_lines_of_the_command_line_show_hostile_text_as_escapes() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SHOUT, HOSTILE], cwd=ROOT, capture_output=True, text=True
    )

    assert ran.returncode == 0, ran.stderr
    assert "a hook failed: \\x1b[2Jcleared" in ran.stderr
    assert RAW.findall(ran.stderr) == []
