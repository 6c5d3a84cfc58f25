"""docs/execution.md shows docs/examples/already_running.py as it is, and what it prints."""

from __future__ import annotations

from tests.support.docs import ROOT, code_blocks, printed_by, section

DOC = ROOT / "docs" / "execution.md"
EXAMPLE = ROOT / "docs" / "examples" / "already_running.py"


def _blocks(language: str) -> list[str]:
    return code_blocks(section(DOC, "Already running"), language)


def test_the_docs_show_the_example_file_as_it_is() -> None:
    assert EXAMPLE.read_text() in _blocks("python")


def test_the_example_refuses_a_second_run_replaces_an_old_one_and_prints_what_the_docs_say() -> (
    None
):
    [printed] = _blocks("text")
    assert printed_by(EXAMPLE, timeout=60) == printed
    assert "second billing run: failed (queued_jobs.errors.JobAlreadyRunning)" in printed
