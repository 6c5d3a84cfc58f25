"""docs/sequences.md shows docs/examples/sequence_steps.py as it is, and what it prints."""

from __future__ import annotations

from tests.support.docs import ROOT, code_blocks, printed_by

DOC = ROOT / "docs" / "sequences.md"
EXAMPLE = ROOT / "docs" / "examples" / "sequence_steps.py"


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in code_blocks(DOC, "python")


def test_the_example_runs_three_sequences_and_prints_what_the_docs_say() -> None:
    assert printed_by(EXAMPLE, timeout=60) == code_blocks(DOC, "text")[-1]
