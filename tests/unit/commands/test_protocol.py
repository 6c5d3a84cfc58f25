"""The job-aware line protocol: which lines are directives, and what they say."""

from __future__ import annotations

import pytest

from queued_jobs.commands.protocol import Progress, Result, Unreadable, parse_directive


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("::progress 40 copying files", Progress(40.0, "copying files")),
        ("::progress 12.5%", Progress(12.5, None)),
        ("::progress 100   done  ", Progress(100.0, "done")),
        ("::progress 0", Progress(0.0, None)),
        ('::result {"rows": 1200}', Result({"rows": 1200})),
        ("::result [1, 2, 3]", Result([1, 2, 3])),
        ('::result "text"', Result("text")),
        ("::result null", Result(None)),
    ],
)
def test_a_directive_line_says_what_it_names(line: str, said: Progress | Result) -> None:
    assert parse_directive(line) == said


@pytest.mark.parametrize(
    "line",
    ["progress 40", ": progress 40", "::", "::unknown thing", "::Progress 40", " ::progress 4"],
)
def test_other_lines_are_output(line: str) -> None:
    assert parse_directive(line) is None


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("::progress", "needs a percent"),
        ("::progress forty", "needs a percent"),
        ("::progress 101", "0 to 100"),
        ("::progress -1", "0 to 100"),
        ("::progress nan", "0 to 100"),
        ("::result", "needs a JSON value"),
        ("::result {not json", "not JSON"),
        ("::result NaN", "not JSON"),
        ("::result " + "[" * 5000 + "]" * 5000, "deep|not JSON"),
        ("::result " + "9" * 5000, "digits|not JSON"),
    ],
    ids=["empty", "word", "over", "under", "nan", "no-value", "broken", "nan-json", "deep", "long"],
)
def test_a_directive_that_cannot_be_read_says_why(line: str, why: str) -> None:
    with pytest.raises(Unreadable, match=why):
        parse_directive(line)


def test_a_progress_message_is_cut_to_what_progress_holds() -> None:
    said = parse_directive("::progress 5 " + "m" * 5000)
    assert isinstance(said, Progress)
    assert said.message == "m" * 1024
