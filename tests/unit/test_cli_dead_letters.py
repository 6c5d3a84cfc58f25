"""``queued-jobs dead-letters`` against a SQLite app (``tests/cli_app.py``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from queued_jobs._cli_views import printable
from queued_jobs.queues.sqlite import SqliteQueueBroker
from tests.support.cli import Invoke

HOSTILE = "\x1b[2J\x1b[31mred\x1b[0m \u202eevil\u202c \x07 [bold]markup[/bold]\nline 2"


def dead_letters(database: Path, queue: str, *bodies: str) -> list[str]:
    """Dead-letter ``bodies`` from ``queue`` as a worker does; the dead letters' ids."""

    async def run() -> list[str]:
        broker = SqliteQueueBroker(database)
        try:
            band = broker.queue(queue)
            await band.create()
            for body in bodies:
                await band.send(body)
            for message in await band.receive():
                await band.dead_letter(message)
            return [m.id for m in await band.dead_letter_queue().peek()]
        finally:
            await broker.close()

    return asyncio.run(run())


def bodies_on(database: Path, queue: str) -> list[str]:
    async def run() -> list[str]:
        broker = SqliteQueueBroker(database)
        try:
            return [m.body for m in await broker.queue(queue).peek()]
        finally:
            await broker.close()

    return asyncio.run(run())


def test_printable_escapes_what_could_rewrite_a_terminal() -> None:
    shown = printable(HOSTILE)

    for unsafe in ("\x1b", "\u202e", "\x07", "\n"):
        assert unsafe not in shown
    for escape in ("\\x1b[31mred", "\\u202eevil", "\\x07", "\\x0a"):
        assert escape in shown
    assert printable("ünïcode ✓ ジョブ") == "ünïcode ✓ ジョブ"
    assert printable("a\nb", keep_newlines=True) == "a\nb"
    assert printable("\ud800") == "\\ud800"


def test_list_shows_each_band_with_a_safe_preview(invoke: Invoke, database: Path) -> None:
    dead_letters(database, "jobs", "not json {", HOSTILE)
    dead_letters(database, "jobs-high", "x" * 500)

    result = invoke("dead-letters", "list")

    assert result.exit_code == 0, result.output
    assert "jobs-high-deadletter: about 1 message\n" in result.output
    assert "jobs-deadletter: about 2 messages\n" in result.output
    assert "jobs-low-deadletter: about 0 messages\n" in result.output
    assert "not json {" in result.output
    assert "\x1b" not in result.output
    assert "\u202e" not in result.output
    assert "\\x1b[31mred" in result.output
    assert "[bold]markup[/bold]" in result.output  # shown, not interpreted
    assert "x" * 500 not in result.output  # a preview


def test_list_as_json_is_ascii_and_carries_the_whole_body(invoke: Invoke, database: Path) -> None:
    [message_id] = dead_letters(database, "jobs-low", HOSTILE)

    result = invoke("dead-letters", "list", "--band", "low", "--json")

    assert result.exit_code == 0, result.output
    assert result.output.isascii()
    [listing] = json.loads(result.output)
    assert listing["queue"] == "jobs-low-deadletter"
    [letter] = listing["messages"]
    assert (letter["id"], letter["body"], letter["wire"]) == (message_id, HOSTILE, HOSTILE)


def test_show_prints_one_message_whole_and_safely(invoke: Invoke, database: Path) -> None:
    [message_id] = dead_letters(database, "jobs", HOSTILE + "y" * 200)

    result = invoke("dead-letters", "show", message_id)
    as_json = invoke("dead-letters", "show", message_id, "--band", "normal", "--json")

    assert result.exit_code == 0, result.output
    assert f"id:             {message_id}" in result.output
    assert "queue:          jobs-deadletter" in result.output
    assert "stored as:      plain text" in result.output
    assert "y" * 200 in result.output
    assert "\x1b" not in result.output
    assert json.loads(as_json.output)["body"] == HOSTILE + "y" * 200


def test_requeue_moves_the_message_back_to_its_band(invoke: Invoke, database: Path) -> None:
    [message_id] = dead_letters(database, "jobs-high", '{"v": 1, "id": "kept"}')

    result = invoke("dead-letters", "requeue", message_id)

    assert result.exit_code == 0, result.output
    assert f"requeued message {message_id} from jobs-high-deadletter" in result.output
    assert bodies_on(database, "jobs-high") == ['{"v": 1, "id": "kept"}']
    assert bodies_on(database, "jobs-high-deadletter") == []


def test_purge_asks_first_and_deletes_one_or_all(invoke: Invoke, database: Path) -> None:
    _, second, _ = dead_letters(database, "jobs", "a", "b", "c")

    refused = invoke("dead-letters", "purge", "--band", "normal", input="n\n")
    assert refused.exit_code == 1
    assert "Delete every message of jobs-deadletter?" in refused.output
    assert bodies_on(database, "jobs-deadletter") == ["a", "b", "c"]

    one = invoke("dead-letters", "purge", second, "--yes")
    assert one.exit_code == 0, one.output
    assert bodies_on(database, "jobs-deadletter") == ["a", "c"]

    every = invoke("dead-letters", "purge", input="y\n")
    assert every.exit_code == 0, every.output
    assert "purged about 2 messages" in every.output
    assert bodies_on(database, "jobs-deadletter") == []


def test_an_unknown_id_is_reported_in_a_sentence(invoke: Invoke, database: Path) -> None:
    dead_letters(database, "jobs", "a")

    for command in ("show", "requeue"):
        result = invoke("dead-letters", command, "nope", "--band", "normal")
        assert result.exit_code == 1
        assert "no message with id 'nope' on queue 'jobs-deadletter'" in result.output


def test_an_id_on_no_band_is_reported_with_every_queue_searched(
    invoke: Invoke, database: Path
) -> None:
    dead_letters(database, "jobs", "a")

    result = invoke("dead-letters", "show", "nope")

    assert result.exit_code == 1
    assert (
        "no message with id 'nope' on queues 'jobs-high-deadletter', 'jobs-deadletter', "
        "'jobs-low-deadletter'"
    ) in result.output


def test_poison_reads_the_poison_queues(invoke: Invoke, database: Path) -> None:
    async def poison() -> None:
        broker = SqliteQueueBroker(database)
        try:
            await broker.queue("jobs-low-poison").send("given up by the host")
        finally:
            await broker.close()

    asyncio.run(poison())

    result = invoke("dead-letters", "list", "--poison", "--band", "low")

    assert result.exit_code == 0, result.output
    assert "jobs-low-poison: about 1 message" in result.output
    assert "given up by the host" in result.output
