"""What a command registration accepts, and what it lets a request change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from queued_jobs import JobRegistry
from queued_jobs.commands import (
    DEFAULT_INHERITED,
    Command,
    CommandRequest,
    ExitCodes,
    LocalFile,
    Output,
)
from queued_jobs.errors import ConfigurationError


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"program": ""}, "give a program"),
        ({"args": ["a\x00b"]}, "NUL"),
        ({"env": {"A": "\x00"}}, "NUL"),
        ({"env": {"1BAD": "x"}}, "not an environment variable"),
        ({"env": {"QUEUED_JOBS_JOB_ID": "x"}}, "QUEUED_JOBS_"),
        ({"allow_env": {"A-B"}}, "not an environment variable"),
        ({"kill_after": timedelta(0)}, "kill_after"),
        ({"max_run_time": timedelta(seconds=-1)}, "max_run_time"),
        ({"max_args": -1}, "max_args"),
    ],
    ids=["no-program", "nul-arg", "nul-env", "env-name", "reserved", "allowed-name", "kill",
         "run-time", "max-args"],
)  # fmt: skip
def test_a_registration_that_cannot_work_is_refused(options: dict[str, Any], refusal: str) -> None:
    with pytest.raises(ConfigurationError, match=refusal):
        Command(**{"job_type": "t.cmd", "program": "/bin/true", **options})


def test_exit_codes_count_one_way_each_and_others_as_otherwise_says() -> None:
    codes = ExitCodes(success=frozenset({0, 1}), retry=frozenset({75}), permanent=frozenset({2}))
    assert [codes.counts_as(code) for code in (0, 1, 75, 2, 3)] == [
        "success", "success", "retry", "fail", "retry"
    ]  # fmt: skip
    assert ExitCodes(otherwise="fail").counts_as(3) == "fail"
    with pytest.raises(ConfigurationError, match="only one way"):
        ExitCodes(retry=frozenset({0}))
    with pytest.raises(ConfigurationError, match="0 to 255"):
        ExitCodes(permanent=frozenset({256}))


def test_an_output_file_may_name_only_the_job_s_id_type_and_attempt() -> None:
    LocalFile("/var/log/{job_type}/{job_id}-{attempt}.log")
    with pytest.raises(ConfigurationError, match="only"):
        LocalFile("/var/log/{owner}.log")


def test_output_links_live_at_most_as_long_as_a_store_allows() -> None:
    with pytest.raises(ConfigurationError, match="7 days"):
        Output(link_valid_for=timedelta(days=8))
    with pytest.raises(ConfigurationError, match="at least 1,024"):
        Output(max_bytes=10)


def test_programs_get_no_secrets_of_the_worker_by_default() -> None:
    assert "PATH" in DEFAULT_INHERITED
    assert not [name for name in DEFAULT_INHERITED if "STORAGE" in name or "KEY" in name]


def definition(**options: Any) -> Any:
    registry = JobRegistry()
    return registry.add(Command(job_type="t.cmd", program="/bin/true", **options))


def test_no_request_at_all_runs_the_command_as_registered() -> None:
    assert definition().validate_request(None) == {"args": [], "env": {}, "input": None}


def test_a_request_may_add_arguments_and_set_allowed_variables_only() -> None:
    allowing = definition(allow_args=True, allow_env={"SINCE"}, max_args=2)
    stored = allowing.validate_request({"args": ["--since", "$(x)"], "env": {"SINCE": "1"}})
    assert stored == {"args": ["--since", "$(x)"], "env": {"SINCE": "1"}, "input": None}
    for refused in ({"args": ["a", "b", "c"]}, {"env": {"PATH": "/tmp"}}):
        with pytest.raises(ValidationError):
            allowing.validate_request(refused)
    with pytest.raises(ValidationError, match="takes no arguments"):
        definition().validate_request({"args": ["x"]})


def test_the_registration_is_what_the_registry_knows_the_type_by() -> None:
    built = definition(max_run_time=timedelta(minutes=5), max_attempts=2)
    assert built.job_type == "t.cmd"
    assert built.max_run_time == timedelta(minutes=5)
    assert built.max_attempts == 2
    # a program is given kill_after to go, and time to store what it printed
    assert built.stop_grace > timedelta(seconds=5)
    assert CommandRequest.model_json_schema()["additionalProperties"] is False
