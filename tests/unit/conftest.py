"""Fixtures of the command-line tests: a fresh SQLite file for ``tests.cli_app:app`` and the
command line run in-process against it."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from queued_jobs.cli import cli
from tests.support.cli import Invoke


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite file for ``tests.cli_app:app``, named by the environment as a user would."""
    path = tmp_path / "jobs.db"
    monkeypatch.setenv("QJ_CLI_DB", str(path))
    monkeypatch.setenv("QUEUED_JOBS_APP", "tests.cli_app:app")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):  # plain text output
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def invoke(database: Path) -> Invoke:
    """Run the command line in-process; fails the test on any traceback."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(cli, list(args), input=input, prog_name="queued-jobs")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            assert result.exc_info is not None
            pytest.fail("".join(traceback.format_exception(*result.exc_info)))
        assert not re.search(r"^Traceback", result.output, re.MULTILINE)  # not a job's own
        return result

    return run
