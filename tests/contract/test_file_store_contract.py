"""The FileStore contract: memory, local directory and Azure Blob pass these tests unchanged."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from contextlib import aclosing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from queued_jobs.errors import (
    InvalidFileName,
    InvalidInput,
    StoredFileExists,
    StoredFileNotFound,
)
from queued_jobs.files.base import MAX_CHUNK, MAX_LINK_LIFETIME, StoredFile

from .conftest import FileStoreHarness, LinkRefused

pytestmark = pytest.mark.asyncio
AZURE_ONLY = [
    pytest.param("azure", marks=pytest.mark.azurite),
    pytest.param("azure-identity", marks=pytest.mark.azurite),
]

MINUTES = timedelta(minutes=10)
#: Where each kind of link keeps its signature and its expiry.
SIGNATURE_KEYS = ("signature", "sig")
EXPIRY_KEYS = ("expires", "se")


def with_query(url: str, change: dict[str, str]) -> str:
    """``url`` with the query parameters in ``change`` replaced (the rest as they were)."""
    parts = urlsplit(url)
    pairs = [(key, change.get(key, value)) for key, value in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def query_value(url: str, keys: tuple[str, ...]) -> tuple[str, str]:
    """The one parameter of ``url`` named by one of ``keys``, as ``(key, value)``."""
    found = [(key, value) for key, value in parse_qsl(urlsplit(url).query) if key in keys]
    assert len(found) == 1, f"expected one of {keys} in {url}"
    return found[0]


def later(key: str, value: str) -> str:
    """An expiry a day later, in the link's own notation (unix seconds or ISO 8601)."""
    if key == "expires":
        return str(int(value) + 86_400)
    moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=1)
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- write and read --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, files", bytes(range(256)) * 4096],
    ids=["empty", "small", "1-MiB-binary"],
)
async def test_written_bytes_read_back_exactly(file_stores: FileStoreHarness, data: bytes) -> None:
    store = file_stores.store

    written = await store.write("exports/data.bin", data)

    assert await store.read("exports/data.bin") == data
    assert written.name == "exports/data.bin"
    assert written.size == len(data)
    assert [(f.name, f.size) for f in await store.list()] == [("exports/data.bin", len(data))]


async def test_a_file_of_several_mebibytes_round_trips(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    data = os.urandom(3 * 1024 * 1024 + 17)

    await store.write("exports/big.zip", data, content_type="application/zip")

    assert await store.read("exports/big.zip") == data
    assert [f.size for f in await store.list("exports/")] == [len(data)]


async def test_writing_a_name_again_replaces_the_whole_file(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    await store.write("report.csv", b"x" * 10_000)

    await store.write("report.csv", b"short")

    assert await store.read("report.csv") == b"short"
    assert [(f.name, f.size) for f in await store.list()] == [("report.csv", 5)]


async def test_nested_names_are_stored_read_and_listed_by_folder(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("a/b/c.txt", b"deep")
    await store.write("a/top.txt", b"top")

    assert await store.read("a/b/c.txt") == b"deep"
    assert [f.name for f in await store.list("a/b/")] == ["a/b/c.txt"]
    assert [f.name for f in await store.list("a/")] == ["a/b/c.txt", "a/top.txt"]
    assert await store.delete("a/b/c.txt") is True
    assert [f.name for f in await store.list("a/")] == ["a/top.txt"]


async def test_names_with_spaces_and_accents_round_trip_and_their_links_work(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    name = "reports/Q3 résumé.txt"
    data = "Chiffre d'affaires: 42 €\n".encode()

    await store.write(name, data)
    link = await store.download_link(name, expires_in=MINUTES)

    assert await store.read(name) == data
    assert [f.name for f in await store.list("reports/")] == [name]
    assert (await file_stores.download(link.url)).data == data


# --- list ------------------------------------------------------------------------------


async def test_list_by_prefix_returns_only_matching_names_in_order_with_size_and_type(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    for name in ["reports/2024/q2.csv", "invoices/march.zip", "reports-old.txt", "report.txt"]:
        await store.write(name, name.encode())
    await store.write("reports/2024/q1.zip", b"PK\x03\x04zip", content_type="application/zip")

    listed = await store.list("reports/")

    assert [f.name for f in listed] == ["reports/2024/q1.zip", "reports/2024/q2.csv"]
    zipped = listed[0]
    assert (zipped.size, zipped.content_type) == (7, "application/zip")
    assert zipped.modified.tzinfo is not None
    assert [f.name for f in await store.list("reports")] == [
        "reports-old.txt",
        "reports/2024/q1.zip",
        "reports/2024/q2.csv",
    ]
    assert [f.name for f in await store.list()] == [
        "invoices/march.zip",
        "report.txt",
        "reports-old.txt",
        "reports/2024/q1.zip",
        "reports/2024/q2.csv",
    ]
    assert await store.list("nothing/") == []


async def test_write_describes_the_file_it_stored(file_stores: FileStoreHarness) -> None:
    store = file_stores.store

    written = await store.write("bundle.zip", b"PK\x03\x04", content_type="application/zip")

    assert isinstance(written, StoredFile)
    assert (written.name, written.size, written.content_type) == (
        "bundle.zip",
        4,
        "application/zip",
    )
    assert written.modified.tzinfo is not None


# --- missing files and delete ----------------------------------------------------------


async def test_reading_or_linking_a_missing_name_raises_stored_file_not_found(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("a/b.txt", b"here")

    for missing in ["nope.txt", "a/c.txt", "a"]:
        with pytest.raises(StoredFileNotFound) as raised:
            await store.read(missing)
        assert raised.value.name == missing
        with pytest.raises(StoredFileNotFound):
            await store.download_link(missing, expires_in=MINUTES)


async def test_delete_returns_true_then_false_and_the_file_is_gone(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("gone.txt", b"bye")
    await store.write("kept.txt", b"stay")

    assert await store.delete("gone.txt") is True
    assert await store.delete("gone.txt") is False
    assert await store.delete("never.txt") is False
    with pytest.raises(StoredFileNotFound):
        await store.read("gone.txt")
    assert [f.name for f in await store.list()] == ["kept.txt"]


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "/abs", "a/../b", "..", "./a", "a/./b", "a\\b", "a//b", "a/", "bad\x01name", "x" * 1025],
    ids=[
        "empty",
        "absolute",
        "dot-dot",
        "only-dot-dot",
        "leading-dot",
        "inner-dot",
        "backslash",
        "double-slash",
        "trailing-slash",
        "control-char",
        "1025-chars",
    ],
)
async def test_an_invalid_name_raises_invalid_file_name_and_nothing_is_written(
    file_stores: FileStoreHarness, name: str
) -> None:
    store = file_stores.store

    with pytest.raises(InvalidFileName):
        await store.write(name, b"data")
    with pytest.raises(InvalidFileName):
        await store.read(name)
    with pytest.raises(InvalidFileName):
        await store.delete(name)
    with pytest.raises(InvalidFileName):
        await store.download_link(name, expires_in=MINUTES)
    assert await store.list() == []


async def test_a_name_of_1024_characters_is_accepted(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    name = "/".join(["x" * 200] * 5) + "/" + "y" * 19
    assert len(name) == 1024

    await store.write(name, b"long")

    assert await store.read(name) == b"long"
    assert [f.name for f in await store.list()] == [name]


async def test_a_name_segment_fits_a_file_system_name(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    longest = "exports/" + "é" * 125 + ".csv"  # 254 bytes in UTF-8

    await store.write(longest, b"long")

    assert await store.read(longest) == b"long"
    with pytest.raises(InvalidFileName, match="over 255 bytes"):
        await store.write("exports/" + "é" * 126 + ".csv", b"longer")
    assert [f.name for f in await store.list()] == [longest]


@pytest.mark.parametrize(
    "container",
    ["", "ab", "x" * 64, "Upper", "under_score", "-start", "end-", "two--hyphens", "a.b", "a b"],
)
async def test_an_invalid_container_name_raises_invalid_file_name(
    file_stores: FileStoreHarness, container: str
) -> None:
    with pytest.raises(InvalidFileName):
        file_stores.open(container)


async def test_valid_container_names_at_the_limits_are_accepted(
    file_stores: FileStoreHarness,
) -> None:
    for container in ["abc", "a" * 63, "a-1-b"]:
        assert file_stores.open(container).container == container


async def test_create_twice_is_fine_and_keeps_the_files(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    await store.write("kept.txt", b"still here")

    await store.create()
    await store.create()

    assert await store.read("kept.txt") == b"still here"


# --- download links --------------------------------------------------------------------


async def test_a_download_link_fetches_the_exact_bytes_until_it_expires(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    data = os.urandom(100_000)
    await store.write("exports/archive.zip", data, content_type="application/zip")

    link = await store.download_link("exports/archive.zip", expires_in=MINUTES)

    assert link.expires_at == file_stores.clock.now() + MINUTES
    assert await file_stores.fetch(link.url, "exports/archive.zip") == data
    assert await file_stores.fetch(link.url, "exports/archive.zip") == data


async def test_a_link_fetches_the_content_at_the_time_it_is_followed(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("daily.csv", b"old")
    link = await store.download_link("daily.csv", expires_in=MINUTES)

    await store.write("daily.csv", b"new content")

    assert await file_stores.fetch(link.url, "daily.csv") == b"new content"


# Only Azure answers a link over HTTP here (elsewhere the server answering it sets headers).
@pytest.mark.parametrize("file_stores", AZURE_ONLY, indirect=True)
@pytest.mark.parametrize(
    "name",
    ["report.csv", "reports/2024/summary.pdf", "with space.txt", "reports/Q3 résumé.txt"],
)
async def test_a_download_link_offers_the_file_as_an_attachment_under_its_own_name(
    file_stores: FileStoreHarness, name: str
) -> None:
    store = file_stores.store
    await store.write(name, b"attached")
    link = await store.download_link(name, expires_in=MINUTES)

    got = await file_stores.download(link.url)

    assert got.data == b"attached"
    assert got.filename == name.rsplit("/", 1)[-1]


async def test_a_link_past_its_expiry_is_refused(file_stores: FileStoreHarness) -> None:
    await file_stores.store.write("late.txt", b"too late")

    link = await file_stores.expired_link("late.txt")

    await file_stores.assert_refused(link.url)


# Azurite checks SAS expiry against the real clock, not the store's: no exact-second test.
@pytest.mark.parametrize("file_stores", ["memory", "local"], indirect=True)
async def test_a_link_works_until_the_second_before_it_expires(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("timed.txt", b"tick")
    link = await store.download_link("timed.txt", expires_in=MINUTES)

    file_stores.clock.advance(MINUTES - timedelta(seconds=1))
    assert await file_stores.fetch(link.url, "timed.txt") == b"tick"
    file_stores.clock.advance(timedelta(seconds=1))
    await file_stores.assert_refused(link.url)


async def test_a_link_whose_name_was_changed_is_refused(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    await store.write("mine.txt", b"mine")
    await store.write("theirs.txt", b"secret")
    link = await store.download_link("mine.txt", expires_in=MINUTES)

    assert "/mine.txt?" in link.url
    await file_stores.assert_refused(link.url.replace("/mine.txt?", "/theirs.txt?"))


async def test_a_link_with_another_links_signature_is_refused(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("mine.txt", b"mine")
    await store.write("theirs.txt", b"secret")
    mine = await store.download_link("mine.txt", expires_in=MINUTES)
    theirs = await store.download_link("theirs.txt", expires_in=MINUTES)
    key, my_signature = query_value(mine.url, SIGNATURE_KEYS)
    _, their_signature = query_value(theirs.url, SIGNATURE_KEYS)
    assert my_signature != their_signature

    # Rebuilding the query unchanged keeps a working link: the refusals below are the edits'.
    assert await file_stores.fetch(with_query(mine.url, {}), "mine.txt") == b"mine"
    await file_stores.assert_refused(with_query(theirs.url, {key: my_signature}))
    altered = ("B" if my_signature.startswith("A") else "A") + my_signature[1:]
    await file_stores.assert_refused(with_query(mine.url, {key: altered}))


async def test_a_link_whose_expiry_was_stretched_is_refused(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    await store.write("brief.txt", b"brief")
    link = await store.download_link("brief.txt", expires_in=MINUTES)
    key, expires = query_value(link.url, EXPIRY_KEYS)

    await file_stores.assert_refused(with_query(link.url, {key: later(key, expires)}))


async def test_a_link_moved_to_another_container_is_refused(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("shared-name.txt", b"this container")
    link = await store.download_link("shared-name.txt", expires_in=MINUTES)
    other = file_stores.open("other-" + store.container)
    await other.create()
    await other.write("shared-name.txt", b"other container")

    moved = link.url.replace(f"/{store.container}/", f"/{other.container}/")

    assert moved != link.url
    await file_stores.assert_refused(moved)


@pytest.mark.parametrize(
    "lifetime",
    [timedelta(0), timedelta(seconds=-1), MAX_LINK_LIFETIME + timedelta(seconds=1)],
    ids=["zero", "negative", "over-7-days"],
)
async def test_a_link_lifetime_outside_0_to_7_days_is_invalid_input(
    file_stores: FileStoreHarness, lifetime: timedelta
) -> None:
    await file_stores.store.write("f.txt", b"f")

    with pytest.raises(InvalidInput, match="within 7 days"):
        await file_stores.store.download_link("f.txt", expires_in=lifetime)


async def test_a_link_may_last_exactly_7_days(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    await store.write("week.txt", b"week")

    link = await store.download_link("week.txt", expires_in=MAX_LINK_LIFETIME)

    week = file_stores.clock.now() + MAX_LINK_LIFETIME
    if file_stores.kind == "azure-identity":  # no later than its user delegation key
        assert week - timedelta(minutes=5) <= link.expires_at < week
    else:
        assert link.expires_at == week
    assert await file_stores.fetch(link.url, "week.txt") == b"week"


async def test_a_link_to_a_deleted_file_no_longer_downloads_it(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("ephemeral.txt", b"soon gone")
    link = await store.download_link("ephemeral.txt", expires_in=MINUTES)

    await store.delete("ephemeral.txt")

    with pytest.raises((LinkRefused, StoredFileNotFound)) as refused:
        await file_stores.download(link.url)
    if isinstance(refused.value, LinkRefused):
        assert refused.value.status == 404


async def test_links_work_for_names_that_need_escaping_in_a_url(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    names = ["a+b.txt", "100%.txt", "hash#1.txt", "what?.txt", "semi;colon.txt", "amp&eq=.txt"]
    for name in names:
        await store.write(name, name.encode())

    for name in names:
        link = await store.download_link(name, expires_in=MINUTES)
        assert await file_stores.fetch(link.url, name) == name.encode()
    assert [f.name for f in await store.list()] == sorted(names)


# --- streamed writes and reads ---------------------------------------------------------


class _OneWayReader(io.RawIOBase):
    """A binary stream that can only be read forward (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


async def test_a_file_object_is_stored_from_where_it_stands_to_its_end(
    file_stores: FileStoreHarness, tmp_path: Path
) -> None:
    store = file_stores.store
    data = os.urandom(2 * MAX_CHUNK + 123)
    with tempfile.TemporaryFile(dir=tmp_path) as source:
        source.write(b"skipped header" + data)
        source.seek(len(b"skipped header"))

        written = await store.write("exports/streamed.bin", source, content_type="text/plain")

    assert written.size == len(data)
    assert await store.read("exports/streamed.bin") == data
    assert [(f.name, f.size) for f in await store.list()] == [("exports/streamed.bin", len(data))]


@pytest.mark.parametrize("size", [0, 10, MAX_CHUNK + 1], ids=["empty", "small", "over-a-chunk"])
async def test_a_stream_that_cannot_seek_is_stored_whole(
    file_stores: FileStoreHarness, size: int
) -> None:
    store = file_stores.store
    data = os.urandom(size)

    written = await store.write("piped.bin", io.BufferedReader(_OneWayReader(data)))

    assert written.size == size
    assert await store.read("piped.bin") == data


async def test_a_file_is_read_in_pieces_of_at_most_the_chunk_size(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    data = os.urandom(2 * MAX_CHUNK + 5)
    await store.write("big.bin", data)

    pieces = [piece async for piece in store.read_chunks("big.bin")]

    assert b"".join(pieces) == data
    assert len(pieces) >= 3
    assert max(len(piece) for piece in pieces) <= MAX_CHUNK


async def test_an_empty_file_is_read_in_no_pieces_and_a_missing_one_is_not_found(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("empty.txt", b"")

    assert [piece async for piece in store.read_chunks("empty.txt")] == []
    with pytest.raises(StoredFileNotFound):
        async for _ in store.read_chunks("missing.txt"):
            pass
    with pytest.raises(InvalidFileName):
        async for _ in store.read_chunks("../escape.txt"):
            pass


async def test_a_reader_may_stop_after_the_first_piece(file_stores: FileStoreHarness) -> None:
    store = file_stores.store
    data = os.urandom(3 * MAX_CHUNK)
    await store.write("big.bin", data)

    async with aclosing(store.read_chunks("big.bin")) as pieces:
        first = await anext(pieces)

    assert data.startswith(first)
    assert len(first) <= MAX_CHUNK
    assert await store.read("big.bin") == data


async def test_a_write_that_must_not_overwrite_keeps_the_existing_file(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store
    await store.write("zips/taken.zip", b"first")

    with pytest.raises(StoredFileExists) as refused:
        await store.write("zips/taken.zip", b"second", overwrite=False)
    with pytest.raises(StoredFileExists):
        await store.write("zips/taken.zip", io.BytesIO(b"third"), overwrite=False)

    assert refused.value.name == "zips/taken.zip"
    assert await store.read("zips/taken.zip") == b"first"
    assert [f.name for f in await store.list()] == ["zips/taken.zip"]
    await store.write("zips/free.zip", io.BytesIO(b"new"), overwrite=False)
    assert await store.read("zips/free.zip") == b"new"


async def test_writers_racing_for_a_new_name_without_overwrite_leave_one_winner(
    file_stores: FileStoreHarness,
) -> None:
    store = file_stores.store

    outcomes = await asyncio.gather(
        *(store.write("zips/race.zip", f"writer {n}".encode(), overwrite=False) for n in range(4)),
        return_exceptions=True,
    )

    winners = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, StoredFile)]
    assert len(winners) == 1
    assert all(isinstance(o, StoredFileExists) for o in outcomes if not isinstance(o, StoredFile))
    assert await store.read("zips/race.zip") == f"writer {winners[0]}".encode()
