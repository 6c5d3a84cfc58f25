"""docs/schedules.md shows docs/examples/schedule_rules.py as it is, and what it prints."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "schedules.md"
EXAMPLE = ROOT / "docs" / "examples" / "schedule_rules.py"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in blocks("python")


def test_the_example_prints_what_the_docs_say() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == blocks("text")[-1]


def test_the_short_snippets_of_the_docs_run() -> None:
    """The reference's snippets: each runs, and says what its comments say."""
    snippets = [block for block in blocks("python") if block != EXAMPLE.read_text()]
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for snippet in snippets:
            exec(compile(snippet, str(DOC), "exec"), namespace)
    assert str(namespace["rule"]) == "cron:0 9 * * MON-FRI"
    assert printed.getvalue().splitlines() == [
        "2026-03-28 02:30:00+01:00",
        "2026-03-29 03:00:00+02:00",
        "2026-03-30 02:30:00+02:00",
    ]
