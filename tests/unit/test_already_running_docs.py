"""docs/execution.md shows docs/examples/already_running.py as it is, and what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "execution.md"
EXAMPLE = ROOT / "docs" / "examples" / "already_running.py"


def section() -> str:
    text = DOC.read_text()
    return text.split("## Already running\n", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), flags=re.DOTALL)


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in blocks("python")


def test_the_example_refuses_a_second_run_replaces_an_old_one_and_prints_what_the_docs_say() -> (
    None
):
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    [printed] = blocks("text")
    assert done.stdout == printed
    assert "second billing run: failed (queued_jobs.errors.JobAlreadyRunning)" in printed
