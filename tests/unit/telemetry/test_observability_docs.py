"""docs/observability.md shows docs/examples/traced_jobs.py as it is, and what it prints;
its other Python blocks are code that compiles."""

from __future__ import annotations

from tests.support.docs import ROOT, code_blocks, printed_by, section

DOC = ROOT / "docs" / "observability.md"
EXAMPLE = ROOT / "docs" / "examples" / "traced_jobs.py"


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in code_blocks(section(DOC, "An example"), "python")


def test_the_example_prints_the_trace_the_docs_show() -> None:
    [printed] = code_blocks(section(DOC, "An example"), "text")
    assert printed_by(EXAMPLE, timeout=60) == printed


def test_every_python_block_of_the_docs_compiles() -> None:
    blocks = code_blocks(DOC, "python")
    assert len(blocks) >= 4
    for block in blocks:
        compile(block, str(DOC), "exec")
