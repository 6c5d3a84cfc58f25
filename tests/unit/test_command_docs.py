"""docs/commands.md shows docs/examples/command_jobs.py as it is, and what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "commands.md"
EXAMPLE = ROOT / "docs" / "examples" / "command_jobs.py"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in blocks("python")


def test_the_example_runs_two_commands_and_prints_what_the_docs_say() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == blocks("text")[-1]
