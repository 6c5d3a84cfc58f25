"""A job's output as its record keeps it (``JobOutput``): the end of what was printed, cut
at a line start where one is near, never longer than the limit; what a reader gets after
the characters it has seen; and what a write that adds none says it added."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queued_jobs.errors import InvalidInput
from queued_jobs.models import (
    MAX_OUTPUT_POSITION,
    OUTPUT_TAIL_LIMIT,
    JobOutput,
    JobStatus,
    QueuedJob,
    change_of,
    clean_output,
    output_tail,
    read_output,
)

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
checks = settings(derandomize=True, database=None, deadline=None, max_examples=200)
#: Chunks as a program prints them: short and long, with and without line ends.
chunks = st.lists(
    st.one_of(
        st.text(alphabet="ab\n", max_size=40),
        st.text(alphabet='xyz\t"\\é🙂\n', min_size=1, max_size=3_000),
        st.integers(1, 9_000).map(lambda n: "z" * n),
    ),
    max_size=12,
)


def printed(*texts: str) -> JobOutput:
    output = JobOutput()
    for text in texts:
        output = output.appended(text)
    return output


# --- the tail ----------------------------------------------------------------------------


def test_short_text_is_kept_whole() -> None:
    assert output_tail("one\ntwo\n", 100) == "one\ntwo\n"


def test_a_cut_starts_at_the_first_line_start_within_the_limit() -> None:
    assert output_tail("first line\nsecond\nthird", 15) == "second\nthird"


def test_a_tail_that_already_starts_a_line_loses_nothing_more() -> None:
    assert output_tail("dropped\nkept one\nkept two", 17) == "kept one\nkept two"


def test_a_tail_of_no_characters_is_empty() -> None:
    assert output_tail("abc\n", 0) == ""


def test_a_tail_without_a_line_start_is_cut_at_a_character() -> None:
    assert output_tail("🙂" * 20, 7) == "🙂" * 7
    assert output_tail("x" * 10 + "\n", 5) == "xxxx\n"  # a line end only at its very end


@checks
@given(chunks)
def test_the_record_holds_the_end_of_everything_printed_within_the_limit(
    texts: list[str],
) -> None:
    whole = "".join(texts)
    output = printed(*texts)

    assert output.length == len(whole)
    assert len(output.text) <= OUTPUT_TAIL_LIMIT
    assert whole.endswith(output.text)
    if len(whole) > OUTPUT_TAIL_LIMIT:
        start = len(whole) - len(output.text)
        lines_near = "\n" in whole[-OUTPUT_TAIL_LIMIT:-1]
        assert whole[start - 1] == "\n" or not lines_near  # at a line start where one is
    else:
        assert output.text == whole


@checks
@given(chunks, st.integers(0, 40_000))
def test_a_reader_gets_what_followed_its_position_and_how_much_is_gone(
    texts: list[str], after: int
) -> None:
    whole = "".join(texts)
    output = printed(*texts)

    skipped, text = output.since(after)

    assert skipped + len(text) == max(len(whole) - after, 0)
    assert text == whole[len(whole) - len(text) :]
    assert len(text) <= len(output.text)
    assert skipped == 0 or text == output.text  # gone only what the record lost


def test_a_write_adds_the_new_text_at_the_end_of_the_record() -> None:
    output = printed("one\n", "two\n")

    assert (output.new, output.new_text) == (4, "two\n")
    assert change_of(_job(output), partition="p", position="1").output == "two\n"


def test_more_printed_than_held_keeps_only_the_held_end_never_the_text_before_the_gap() -> None:
    before = printed("old lines\n")

    after = before.appended("the end\n", 20_000)

    assert after.text == "the end\n"
    assert after.length == len("old lines\n") + 20_000
    assert after.since(len("old lines\n")) == (20_000 - len("the end\n"), "the end\n")


def test_appending_nothing_says_the_write_added_nothing() -> None:
    output = printed("one\n")

    quiet = output.appended("")

    assert (quiet.text, quiet.length, quiet.new) == ("one\n", 4, 0)
    assert change_of(_job(quiet), partition="p", position="1").output is None


def test_a_write_that_names_no_output_says_it_added_none() -> None:
    job = _job(printed("hello\n"))

    for written in (
        job.changed(cancel_requested=True),
        job.transition(JobStatus.CANCELLED, now=NOW),
    ):
        assert written.output == JobOutput(text="hello\n", length=6, new=0)
        assert change_of(written, partition="p", position="1").output is None


def test_a_transition_that_gives_the_output_keeps_what_it_added() -> None:
    job = _job(printed("hello\n"))
    more = job.output.appended("bye\n") if job.output else None

    done = job.transition(JobStatus.SUCCEEDED, now=NOW, output=more)

    assert done.output is not None
    assert done.output.new_text == "bye\n"


# --- clean text --------------------------------------------------------------------------


def test_escape_sequences_go_and_controls_and_lone_surrogates_become_replacements() -> None:
    raw = "\x1b[31mred\x1b[0m\r\nbell\x07 nul\x00 tab\t\ud800 ok\rend"

    assert clean_output(raw) == "red\nbell\ufffd nul\ufffd tab\t\ufffd ok\nend"


def test_a_record_never_holds_a_control_character_whatever_builds_it() -> None:
    output = JobOutput(text="a\x01b\x7f\x1b[0m\n", length=9)

    assert output.text == "a\ufffdb\ufffd\ufffd[0m\n"  # one for one: lengths hold
    assert len(output.model_dump_json()) < 2 * len(output.text) + 40


# --- reading -----------------------------------------------------------------------------


def test_a_read_of_a_job_that_printed_nothing_is_empty() -> None:
    read = read_output("j", JobStatus.RUNNING, None, 0)

    assert (read.text, read.length, read.skipped, read.complete) == ("", 0, 0, False)


def test_a_read_past_the_end_gets_nothing_and_a_finished_job_s_read_is_complete() -> None:
    read = read_output("j", JobStatus.SUCCEEDED, printed("done\n"), 99)

    assert (read.text, read.length, read.skipped, read.complete) == ("", 5, 0, True)


@pytest.mark.parametrize(
    "after",
    [-1, MAX_OUTPUT_POSITION + 1, 10**30, "12", 1.5, True],
    ids=["negative", "past-the-largest", "huge", "text", "fraction", "boolean"],
)
def test_a_position_no_reader_can_have_is_refused(after: object) -> None:
    with pytest.raises(InvalidInput, match="position in a job's output"):
        read_output("j", JobStatus.RUNNING, None, after)  # type: ignore[arg-type]


def _job(output: JobOutput) -> QueuedJob:
    return QueuedJob.new(owner="alice", job_type="tests.print", now=NOW).model_copy(
        update={"status": JobStatus.RUNNING, "output": output}
    )
