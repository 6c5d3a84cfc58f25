"""A program's output as it streams: bytes decoded into clean lines, directives picked
out, and every line handed to each destination (the record, a spooled file for the file
store, a local file).

Each stream (stdout, stderr) is decoded on its own, as UTF-8 (invalid bytes become
U+FFFD; a character split between two reads is put back together), and cut into lines:
the two streams interleave whole lines. A line still open is handed on after a pause in
the stream (:data:`FLUSH_AFTER`) or once it is long (:data:`HOLD_LIMIT`), so that a
progress bar without line ends still shows. Memory stays bounded whatever the program
prints: a line is held up to :data:`HOLD_LIMIT` characters (a directive up to
:data:`~.protocol.MAX_DIRECTIVE`), the record keeps its tail, files are written as lines
come.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Final, Protocol

from ..errors import QueuedJobsError
from ..models import clean_output
from ..telemetry.logs import library_logger
from .options import FileMode, LocalFile
from .protocol import MAX_DIRECTIVE, PREFIX, Progress, Result, Unreadable, parse_directive

__all__ = [
    "FLUSH_AFTER",
    "HOLD_LIMIT",
    "Capture",
    "LocalFileSink",
    "RecordSink",
    "Sink",
    "SpoolSink",
    "pump",
]

log = library_logger("queued_jobs.commands")

#: A line still open is handed on after the stream is quiet this long (seconds).
FLUSH_AFTER: Final = 1.0
#: ... or once it holds this many characters.
HOLD_LIMIT: Final = 64 * 1024
#: How many bytes one read of a stream takes at most.
_READ: Final = 64 * 1024


class Sink(Protocol):
    """A destination of output text (clean, whole lines mostly)."""

    async def write(self, text: str) -> None: ...

    async def close(self) -> None: ...


class RecordSink:
    """Into the job's record (``context.append_output``), which keeps the end. The
    record's output runs on from attempt to attempt: a later attempt's output starts with
    a line that says which attempt it is."""

    def __init__(self, append: Callable[[str], Awaitable[None]], *, attempt: int) -> None:
        self._append = append
        self._header = f"[attempt {attempt}]\n" if attempt > 1 else ""

    async def write(self, text: str) -> None:
        if self._header:
            text, self._header = self._header + text, ""
        await self._append(text)

    async def close(self) -> None:
        return None


class _FileSink:
    """Output into a file, at most ``max_bytes`` of it: past that, one line says the rest
    is not kept there (the record still keeps its end), so that a program that prints
    without end cannot fill the disk."""

    def __init__(self, file: IO[bytes], max_bytes: int) -> None:
        self.file = file
        self.size = 0
        self._max = max_bytes
        self._full = False

    async def write(self, text: str) -> None:
        if self._full:
            return
        data = text.encode("utf-8")
        room = self._max - self.size
        if len(data) > room:
            cut = data[:room].decode("utf-8", "ignore").encode("utf-8")  # whole characters
            data = cut + _cut_line(self._max)
            self._full = True
        self.file.write(data)
        self.size += len(data)

    async def close(self) -> None:
        self.file.close()


def _cut_line(max_bytes: int) -> bytes:
    return f"\n[… output past {max_bytes:,} bytes is not kept here …]\n".encode()


class SpoolSink(_FileSink):
    """Into a temporary file on disk, whole (up to its bound), for the file store once the
    program ended."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(tempfile.TemporaryFile(), max_bytes)  # noqa: SIM115 - close()


class LocalFileSink(_FileSink):
    """Into a file on the worker's machine, as lines come (up to its bound)."""

    def __init__(self, target: LocalFile, *, job_id: str, job_type: str, attempt: int,
                 started: datetime, max_bytes: int) -> None:  # fmt: skip
        path = Path(target.path.format(job_id=job_id, job_type=job_type, attempt=attempt))
        path.parent.mkdir(parents=True, exist_ok=True)
        if target.mode is FileMode.TIMESTAMPED:
            self.path, file = _new_file(path, started)
        else:
            self.path = path
            file = path.open("ab" if target.mode is FileMode.APPEND else "wb")
        super().__init__(file, max_bytes)


def _new_file(path: Path, started: datetime) -> tuple[Path, IO[bytes]]:
    """A file of its own for an attempt: ``path`` named with the attempt's start (to the
    millisecond), and a number after it if another attempt took that name."""
    stamp = started.strftime("%Y%m%dT%H%M%S.") + f"{started.microsecond // 1000:03d}Z"
    for number in range(1, 1000):
        extra = "" if number == 1 else f"-{number}"
        named = path.with_name(f"{path.stem}-{stamp}{extra}{path.suffix}")
        try:
            return named, named.open("xb")
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for the output file {path} at {stamp}")


class Capture:
    """Hands output to every sink and directives to the job; counts what was printed.

    A sink that fails (a full disk) is dropped with a warning: the program goes on, and
    the other destinations keep its output."""

    def __init__(
        self,
        sinks: list[Sink],
        *,
        on_progress: Callable[[Progress], Awaitable[None]],
        job_logger: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self._sinks = sinks
        self._on_progress = on_progress
        self._log = job_logger
        self.length = 0
        self.result: Result | None = None
        #: The last line printed, for a failure's message.
        self.last_line = ""
        self._store_failures = 0

    async def output(self, text: str) -> None:
        text = clean_output(text)
        if not text:
            return
        self.length += len(text)
        stripped = text.rstrip("\n")
        if stripped:
            self.last_line = stripped[stripped.rfind("\n") + 1 :][-500:]
        for sink in list(self._sinks):
            try:
                await sink.write(text)
            except OSError as exc:
                self._log.warning("a destination of the program's output failed: %s", exc)
                self._sinks.remove(sink)
            except QueuedJobsError as exc:  # the store: this piece is lost, the next tried
                self._store_failed(exc)

    async def directive(self, line: str) -> None:
        try:
            said = parse_directive(line)
        except Unreadable as exc:
            self._log.warning("%s; the line is kept as output", exc)
            await self.output(line + "\n")
            return
        if said is None:
            await self.output(line + "\n")
        elif isinstance(said, Progress):
            try:
                await self._on_progress(said)
            except QueuedJobsError as exc:
                self._store_failed(exc)
        else:
            self.result = said

    def _store_failed(self, exc: QueuedJobsError) -> None:
        """A write of output or progress to the job's record failed: said once per attempt,
        and the program goes on (its output still reaches the other destinations)."""
        if not self._store_failures:
            self._log.warning(
                "output or progress could not be written to the job's record (%s); the "
                "program goes on, and later output is tried again",
                exc,
            )
        self._store_failures += 1

    async def close(self) -> None:
        for sink in self._sinks:
            try:
                await sink.close()
            except OSError as exc:
                self._log.warning("closing a destination of the output failed: %s", exc)


#: A line end of another kind than ``\n``: ``\r\n``, or a lone ``\r``.
_LINE_ENDS: Final = re.compile(r"\r\n?")


def _line_end(found: re.Match[str]) -> str:
    """``\n`` for ``\r\n``, and for a lone ``\r`` (a progress bar drawing its line
    again) unless it starts a line: there is nothing to draw over, and no empty line."""
    if found.group() == "\r\n":
        return "\n"
    at = found.start()
    return "" if at == 0 or found.string[at - 1] == "\n" else "\n"


class _Lines:
    """One stream's text cut into lines, directives apart (when ``directives``)."""

    def __init__(self, capture: Capture, *, directives: bool) -> None:
        self._capture = capture
        self._directives = directives
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._open = ""  # the line not yet ended

    def _may_be_directive(self, line: str) -> bool:
        return self._directives and PREFIX.startswith(line[:2]) and len(line) <= MAX_DIRECTIVE

    async def feed(self, data: bytes, *, final: bool = False) -> None:
        text = self._open + self._decoder.decode(data, final=final)
        held_cr = text.endswith("\r") and not final  # perhaps the half of a "\r\n"
        if held_cr:
            text = text[:-1]
        text = _LINE_ENDS.sub(_line_end, text)
        *lines, last = text.split("\n")
        out: list[str] = []
        for line in lines:
            if self._directives and line.startswith(PREFIX) and len(line) <= MAX_DIRECTIVE:
                if out:
                    await self._capture.output("".join(out))
                    out = []
                await self._capture.directive(line)
            else:
                out.append(line + "\n")
        if final or (len(last) >= HOLD_LIMIT and not self._may_be_directive(last)):
            if final and self._may_be_directive(last) and last.startswith(PREFIX):
                if out:
                    await self._capture.output("".join(out))
                    out = []
                await self._capture.directive(last)
            else:
                out.append(last)
            last = ""
        if out:
            await self._capture.output("".join(out))
        self._open = last + ("\r" if held_cr else "")

    async def pause(self) -> None:
        """The stream went quiet: hand on the open line (unless it may be a directive)."""
        if self._open and not self._may_be_directive(self._open.rstrip("\r")):
            held_cr = self._open.endswith("\r")
            text, self._open = self._open.rstrip("\r"), "\r" if held_cr else ""
            await self._capture.output(text)


async def pump(
    stream: asyncio.StreamReader,
    capture: Capture,
    *,
    directives: bool,
    flush_after: float = FLUSH_AFTER,
) -> None:
    """Read ``stream`` to its end into ``capture``; an open line is handed on once the
    stream was quiet ``flush_after`` seconds."""
    lines = _Lines(capture, directives=directives)
    broken = False
    while True:
        try:
            data = await asyncio.wait_for(stream.read(_READ), flush_after)
        except TimeoutError:
            data = None
        if broken:  # read on, so that the program is never blocked on a full pipe
            if data == b"":
                return
            continue
        try:
            if data is None:
                await lines.pause()
            elif data:
                await lines.feed(data)
            else:
                await lines.feed(b"", final=True)
                return
        except Exception:
            log.exception("capturing a program's output failed; the rest of it is dropped")
            broken = True
