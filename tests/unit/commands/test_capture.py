"""A program's streams turned into clean lines: characters split between reads put back
together, invalid bytes replaced, line ends made one kind, long lines and quiet streams
handed on, directives picked out and never split."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from queued_jobs.commands.capture import HOLD_LIMIT, Capture, LocalFileSink, pump
from queued_jobs.commands.options import LocalFile
from queued_jobs.commands.protocol import Progress
from queued_jobs.errors import StorageUnavailable
from tests.support.waiting import until

pytestmark = pytest.mark.asyncio


class Collected:
    """A sink that keeps what it gets, piece by piece."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.closed = False

    async def write(self, text: str) -> None:
        self.pieces.append(text)

    async def close(self) -> None:
        self.closed = True

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class Capturing:
    def __init__(self, *, directives: bool = False, flush_after: float = 1.0) -> None:
        self.sink = Collected()
        self.progress: list[Progress] = []
        self.capture = Capture(
            [self.sink],
            on_progress=self._progress,
            job_logger=logging.LoggerAdapter(logging.getLogger("tests.capture")),
        )
        self.stream = asyncio.StreamReader()
        self.pumping = asyncio.create_task(
            pump(self.stream, self.capture, directives=directives, flush_after=flush_after)
        )

    async def _progress(self, said: Progress) -> None:
        self.progress.append(said)

    async def feed(self, *pieces: bytes) -> None:
        for piece in pieces:
            self.stream.feed_data(piece)
            await asyncio.sleep(0)  # read before the next piece comes

    async def end(self) -> str:
        self.stream.feed_eof()
        await asyncio.wait_for(self.pumping, 10)
        return self.sink.text


async def test_a_character_split_between_two_reads_is_put_back_together() -> None:
    capturing = Capturing()
    await capturing.feed(b"caf\xc3", b"\xa9\n", "✓".encode()[:1], "✓\n".encode()[1:])
    assert await capturing.end() == "café\n✓\n"


async def test_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    capturing = Capturing()
    await capturing.feed(b"bad \xff\xfe bytes\n", b"\xc3 lone lead\n")
    assert await capturing.end() == "bad \ufffd\ufffd bytes\n\ufffd lone lead\n"


async def test_line_ends_are_made_one_kind_even_split_between_reads() -> None:
    capturing = Capturing()
    await capturing.feed(b"windows\r", b"\nold mac\runix\n")
    assert await capturing.end() == "windows\nold mac\nunix\n"


async def test_escape_sequences_go_and_control_characters_are_shown_as_replacements() -> None:
    capturing = Capturing()
    await capturing.feed(b"\x1b[1;31mred\x1b[0m \x1b]0;title\x07bell\x07 nul\x00 tab\t\n")
    assert await capturing.end() == "red bell\ufffd nul\ufffd tab\t\n"


async def test_the_two_streams_interleave_whole_lines() -> None:
    capturing = Capturing()
    other = asyncio.StreamReader()
    second = asyncio.create_task(pump(other, capturing.capture, directives=False))
    await capturing.feed(b"out: first half ")
    other.feed_data(b"err: a whole line\n")
    await asyncio.sleep(0)
    await capturing.feed(b"second half\n")
    other.feed_eof()
    await asyncio.wait_for(second, 10)
    assert await capturing.end() == "err: a whole line\nout: first half second half\n"


async def test_a_line_without_end_longer_than_the_hold_limit_is_handed_on() -> None:
    capturing = Capturing()
    await capturing.feed(b"y" * (HOLD_LIMIT + 10))
    await until(lambda: capturing.sink.pieces, "output handed on")
    assert len(capturing.sink.text) >= HOLD_LIMIT  # before the line ended, in one piece
    await capturing.feed(b" and its end\n")
    assert await capturing.end() == "y" * (HOLD_LIMIT + 10) + " and its end\n"


async def test_an_open_line_is_handed_on_once_the_stream_goes_quiet() -> None:
    capturing = Capturing()
    await capturing.feed(b"42% [#####     ]")  # a progress bar: no line end
    await until(lambda: capturing.sink.pieces, "output handed on")
    assert capturing.sink.text == "42% [#####     ]"
    capturing.stream.feed_eof()
    await asyncio.wait_for(capturing.pumping, 10)


async def test_directives_are_picked_out_and_the_rest_is_output() -> None:
    capturing = Capturing(directives=True)
    await capturing.feed(
        b"before\n::progress 40 copy",
        b'ing files\n::result {"rows":',
        b" 3}\n::unknown stays\n::progress 400\nafter",
    )
    assert await capturing.end() == "before\n::unknown stays\n::progress 400\nafter"
    assert capturing.progress == [Progress(40.0, "copying files")]
    assert capturing.capture.result is not None
    assert capturing.capture.result.value == {"rows": 3}


async def test_a_directive_is_never_handed_on_half_when_the_stream_goes_quiet() -> None:
    capturing = Capturing(directives=True, flush_after=0.01)
    await capturing.feed(b'::result {"a": ')
    other = asyncio.StreamReader()
    quiet = asyncio.create_task(pump(other, capturing.capture, directives=False, flush_after=0.01))
    other.feed_data(b"quiet")
    # that stream went quiet after this one did, so this one's pause came first
    await until(lambda: capturing.sink.pieces, "output handed on")
    assert capturing.sink.text == "quiet"
    other.feed_eof()
    await asyncio.wait_for(quiet, 10)
    await capturing.feed(b"1}")
    assert await capturing.end() == "quiet"  # ended by the stream's end: still a directive
    assert capturing.capture.result is not None
    assert capturing.capture.result.value == {"a": 1}


async def test_directives_are_output_on_a_stream_that_does_not_speak_the_protocol() -> None:
    capturing = Capturing(directives=False)
    await capturing.feed(b"::progress 40\n")
    assert await capturing.end() == "::progress 40\n"
    assert capturing.progress == []


async def test_the_capture_counts_characters_and_remembers_the_last_line() -> None:
    capturing = Capturing()
    await capturing.feed(b"one\ntwo\n\n")
    await capturing.end()
    assert capturing.capture.length == len("one\ntwo\n\n")
    assert capturing.capture.last_line == "two"


class Failing(Collected):
    async def write(self, text: str) -> None:
        raise OSError(28, "No space left on device")


async def test_a_failing_destination_is_dropped_and_the_others_keep_the_output(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kept = Collected()
    capture = Capture(
        [Failing(), kept],
        on_progress=_ignore,
        job_logger=logging.LoggerAdapter(logging.getLogger("tests.capture")),
    )
    await capture.output("one\n")
    await capture.output("two\n")
    assert kept.text == "one\ntwo\n"
    assert "No space left on device" in caplog.text


async def _ignore(_: Progress) -> None:
    return None


class Unavailable(Collected):
    """A record whose store does not answer, then does."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def write(self, text: str) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("the store is down")
        await super().write(text)


async def test_a_store_that_fails_loses_those_pieces_only_and_says_it_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    record = Unavailable(failures=2)
    capture = Capture(
        [record],
        on_progress=_ignore,
        job_logger=logging.LoggerAdapter(logging.getLogger("tests.capture")),
    )
    for line in ("one\n", "two\n", "three\n"):
        await capture.output(line)
    assert record.text == "three\n"
    assert caplog.text.count("could not be written to the job's record") == 1


class Broken(Collected):
    async def write(self, text: str) -> None:
        raise RuntimeError("a bug")


async def test_a_capture_that_breaks_still_reads_the_stream_to_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    capture = Capture(
        [Broken()],
        on_progress=_ignore,
        job_logger=logging.LoggerAdapter(logging.getLogger("tests.capture")),
    )
    stream = asyncio.StreamReader()
    pumping = asyncio.create_task(pump(stream, capture, directives=False))
    for _ in range(100):
        stream.feed_data(b"line\n" * 1000)
        await asyncio.sleep(0)
    stream.feed_eof()
    await asyncio.wait_for(pumping, 10)  # it ended: the program was never left blocked
    assert "the rest of it is dropped" in caplog.text


async def test_a_file_destination_keeps_at_most_its_bound_and_says_where_it_stopped(
    tmp_path: Path,
) -> None:
    sink = LocalFileSink(
        LocalFile(str(tmp_path / "out.log")),
        job_id="j",
        job_type="t",
        attempt=1,
        started=datetime(2026, 12, 2, tzinfo=UTC),
        max_bytes=1024,
    )
    for _ in range(100):
        await sink.write("ünïcödé line\n")  # two-byte characters: a cut may fall inside one
    await sink.close()
    kept = (tmp_path / "out.log").read_bytes()
    text = kept.decode("utf-8")  # whole characters only
    assert text.endswith("\n[… output past 1,024 bytes is not kept here …]\n")
    assert len(text.split("\n[…")[0].encode()) <= 1024
    assert sink.size == len(kept)


async def test_a_carriage_return_that_starts_a_line_makes_no_empty_line() -> None:
    capturing = Capturing()
    await capturing.feed(b"tick\n\r50% [###   ]\r100% [######]\n", b"\r\n\rlast\n")
    assert await capturing.end() == "tick\n50% [###   ]\n100% [######]\n\nlast\n"
