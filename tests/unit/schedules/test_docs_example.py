"""docs/schedules.md shows its examples (docs/examples/schedule_rules.py and
schedule_client.py) as they are, and what they print."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "schedules.md"
EXAMPLES = ROOT / "docs" / "examples"
#: Each example and the first line of what it prints.
PRINTS = {"schedule_rules.py": "Weekdays at nine:", "schedule_client.py": "sales report: "}
#: Where the reference's snippets end and the client's (which need a running app) begin.
CLIENT_SECTION = "## Making and steering schedules"


def blocks(language: str, text: str | None = None) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text or DOC.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("name", sorted(PRINTS))
def test_the_docs_show_the_example_file_as_it_is(name: str) -> None:
    assert (EXAMPLES / name).read_text() in blocks("python")


@pytest.mark.parametrize("name", sorted(PRINTS))
def test_the_example_prints_what_the_docs_say(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    [said] = [block for block in blocks("text") if block.startswith(PRINTS[name])]
    assert done.stdout == said


def test_the_short_snippets_of_the_docs_run() -> None:
    """The reference's snippets: each runs, and says what its comments say."""
    reference = DOC.read_text().split(CLIENT_SECTION)[0]
    examples = [path.read_text() for path in EXAMPLES.glob("schedule_*.py")]
    snippets = [block for block in blocks("python", reference) if block not in examples]
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
