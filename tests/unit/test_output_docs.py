"""docs/execution.md shows docs/examples/job_output.py as it is, and what it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "execution.md"
EXAMPLE = ROOT / "docs" / "examples" / "job_output.py"


def _section() -> str:
    text = DOC.read_text()
    start = text.index("## A job's output\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert f"```python\n{EXAMPLE.read_text()}```" in _section()


def test_the_example_follows_a_job_s_output_and_prints_what_the_docs_say() -> None:
    [printed] = re.findall(r"```text\n(.*?)```", _section(), flags=re.DOTALL)

    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == printed
