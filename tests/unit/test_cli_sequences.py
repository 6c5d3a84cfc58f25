"""``queued-jobs sequences``: start one from a JSON definition, list, show and cancel it,
and refuse what is not a definition, with a clear message and nothing stored."""

from __future__ import annotations

import json

from tests.support.cli import Invoke

DEFINITION = {
    "name": "nightly billing",
    "steps": [
        {"jobs": [{"job_type": "anyreq", "request": {"n": 1}}] * 2, "exit": "wait_any"},
        {"jobs": [{"job_type": "anyreq"}], "pass_results": True},
    ],
    "max_iterations": 2,
}


def started(invoke: Invoke) -> str:
    assert invoke("create-storage").exit_code == 0
    result = invoke("sequences", "start", "-", "--owner", "ada", input=json.dumps(DEFINITION))
    assert result.exit_code == 0, result.output
    [sequence_id] = result.stdout.split()
    return sequence_id


def test_a_started_sequence_is_listed_shown_and_cancelled(invoke: Invoke) -> None:
    sequence_id = started(invoke)

    listed = invoke("sequences", "list", "--owner", "ada")
    assert sequence_id in listed.stdout
    assert "nightly billing" in listed.stdout
    shown = invoke("sequences", "show", sequence_id)
    assert shown.exit_code == 0
    assert "running at step 0" in shown.stdout
    assert shown.stdout.count("anyreq") == 2
    record = json.loads(invoke("sequences", "show", sequence_id, "--json").stdout)
    assert (record["status"], record["max_iterations"], len(record["runs"])) == ("running", 2, 1)

    cancelled = invoke("sequences", "cancel", sequence_id, "--reason", "not tonight")
    assert cancelled.stdout.strip() == f"{sequence_id} cancelled"
    record = json.loads(invoke("sequences", "show", sequence_id, "--json").stdout)
    assert (record["status"], record["reason"], record["cancel_pending"]) == (
        "cancelled",
        "not tonight",
        False,
    )
    jobs = [
        json.loads(invoke("status", j["job_id"], "--json").stdout)
        for j in record["runs"][0]["jobs"]
    ]
    assert [j["status"] for j in jobs] == ["cancelled", "cancelled"]


def test_what_is_no_definition_is_refused_and_nothing_is_stored(invoke: Invoke) -> None:
    assert invoke("create-storage").exit_code == 0
    refusals = {
        "{not json": "not valid JSON",
        "[1, 2]": "a definition is a JSON object",
        json.dumps({"steps": [{"jobs": [{"job_type": "nope"}]}]}): "nope",
        json.dumps({"steps": [{"jobs": [{"job_type": "anyreq"}], "on_success": "goto:7"}]}): (
            "goes to step 7"
        ),
        json.dumps({"steps": [{"jobs": [{"job_type": "anyreq"}], "on_failure": "jump"}]}): (
            "no action"
        ),
    }
    for text, said in refusals.items():
        result = invoke("sequences", "start", "-", "--owner", "ada", input=text)
        assert result.exit_code == 2, (text, result.output)
        assert said in result.output, (text, result.output)
    assert invoke("sequences", "list").stdout.strip() == "no sequences"


def test_an_unknown_sequence_is_an_error_naming_it(invoke: Invoke) -> None:
    assert invoke("create-storage").exit_code == 0
    for args in (("show", "0" * 29), ("cancel", "../etc")):
        result = invoke("sequences", *args)
        assert result.exit_code == 1
        assert "no sequence with id" in result.output


def test_purge_asks_first_then_deletes_the_sequences_that_ended_longer_ago(
    invoke: Invoke,
) -> None:
    running = started(invoke)
    ended = started(invoke)
    assert invoke("sequences", "cancel", ended).exit_code == 0

    declined = invoke("sequences", "purge", "--older-than", "0", input="n\n")
    assert declined.exit_code == 1
    assert "Delete every sequence that ended before" in declined.output
    assert invoke("sequences", "purge", "--older-than", "1", "--yes").stdout == (
        "purged 0 sequences\n"
    )
    confirmed = invoke("sequences", "purge", "--older-than", "0", input="y\n")
    assert (confirmed.exit_code, confirmed.stdout.splitlines()[-1]) == (0, "purged 1 sequence")
    listed = invoke("sequences", "list").stdout
    assert running in listed
    assert ended not in listed
    for bad in ("soon", "-1", "999999d"):
        refused = invoke("sequences", "purge", "--older-than", bad, "--yes")
        assert refused.exit_code == 2, (bad, refused.output)
        assert "--older-than" in refused.output
