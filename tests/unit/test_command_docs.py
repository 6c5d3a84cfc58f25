"""docs/commands.md shows docs/examples/command_jobs.py as it is, and what it prints."""

from __future__ import annotations

from tests.support.docs import ROOT, code_blocks, printed_by

DOC = ROOT / "docs" / "commands.md"
EXAMPLE = ROOT / "docs" / "examples" / "command_jobs.py"


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in code_blocks(DOC, "python")


def test_the_example_runs_two_commands_and_prints_what_the_docs_say() -> None:
    assert printed_by(EXAMPLE) == code_blocks(DOC, "text")[-1]
