"""docs/execution.md shows docs/examples/job_output.py as it is, and what it prints."""

from __future__ import annotations

from tests.support.docs import ROOT, code_blocks, printed_by, section

DOC = ROOT / "docs" / "execution.md"
EXAMPLE = ROOT / "docs" / "examples" / "job_output.py"


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in code_blocks(section(DOC, "A job's output"), "python")


def test_the_example_follows_a_job_s_output_and_prints_what_the_docs_say() -> None:
    [printed] = code_blocks(section(DOC, "A job's output"), "text")
    assert printed_by(EXAMPLE, timeout=60) == printed
