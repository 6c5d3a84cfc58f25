"""``queued-jobs api-key new``: the key once on standard output, the entry to store next to
it, and the entry accepting the key."""

from __future__ import annotations

import json

from click.testing import CliRunner

from queued_jobs.cli import cli
from queued_jobs.web.auth import ApiKeys, Role
from tests.support.cli import Invoke


async def test_a_new_key_and_its_entry_are_printed_and_the_entry_accepts_the_key(
    invoke: Invoke,
) -> None:
    result = invoke(
        "api-key", "new", "--owner", "nightly-export", "--role", "operator", "--name", "export"
    )

    assert result.exit_code == 0, result.output
    key, entry = result.stdout.splitlines()
    stored = json.loads(entry)
    assert key.startswith("qj_")
    assert stored["owner"] == "nightly-export"
    assert stored["roles"] == ["user", "operator"]
    assert key not in entry
    assert "shown this once" in result.stderr
    principal = await ApiKeys.from_json(f"[{entry}]").authenticate({"X-API-Key": key})
    assert principal is not None
    assert (principal.id, principal.roles) == (
        "nightly-export",
        frozenset({Role.USER, Role.OPERATOR}),
    )


def test_a_key_without_roles_is_a_users(invoke: Invoke) -> None:
    result = invoke("api-key", "new", "--owner", "ada")

    assert json.loads(result.stdout.splitlines()[1])["roles"] == ["user"]


def test_a_key_needs_no_app() -> None:
    result = CliRunner().invoke(cli, ["api-key", "new", "--owner", "ada"], env={})

    assert result.exit_code == 0, result.output


def test_an_owner_no_job_could_have_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("api-key", "new", "--owner", "a" * 300)

    assert result.exit_code == 2
    assert "owner is 300 characters; at most 256 allowed" in result.output


def test_a_role_that_does_not_exist_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("api-key", "new", "--owner", "ada", "--role", "admin")

    assert result.exit_code == 2
    assert "'admin' is not one of 'user', 'reader', 'operator'" in result.output
