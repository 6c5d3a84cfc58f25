"""Signed download links (LinkSigner) and what only the local directory store does: its
signing key, its temporary files, and where the SQLite backend keeps it."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs.app import SqliteStorage
from queued_jobs.clock import ManualClock
from queued_jobs.errors import InvalidDownloadLink, InvalidFileName, StoredFileNotFound
from queued_jobs.files._signing import LinkSigner
from queued_jobs.files.local import DEFAULT_FILES_URL, LocalFileStore

SECRET = b"s" * 32
BASE = "https://jobs.example.com/files"
NOON = datetime(2030, 1, 1, 12, tzinfo=UTC)
MINUTES = timedelta(minutes=10)


# --- LinkSigner ------------------------------------------------------------------------


def test_a_signed_link_verifies_to_its_container_and_name_until_it_expires() -> None:
    signer = LinkSigner(SECRET, BASE)

    link = signer.sign("documents", "reports/Q3 résumé.txt", NOON + MINUTES)

    assert link.url.startswith(f"{BASE}/documents/reports/Q3%20r%C3%A9sum%C3%A9.txt?expires=")
    assert link.expires_at == NOON + MINUTES
    expected = ("documents", "reports/Q3 résumé.txt")
    assert signer.verify(link.url, now=NOON) == expected
    assert signer.verify(link.url, now=NOON + MINUTES - timedelta(seconds=1)) == expected
    with pytest.raises(InvalidDownloadLink, match="expired"):
        signer.verify(link.url, now=NOON + MINUTES)


def test_a_link_expires_on_a_whole_second_never_later_than_asked() -> None:
    signer = LinkSigner(SECRET, BASE)
    asked = NOON + timedelta(seconds=5, microseconds=900_000)

    link = signer.sign("documents", "a.txt", asked)

    assert link.expires_at == NOON + timedelta(seconds=5)
    with pytest.raises(InvalidDownloadLink):
        signer.verify(link.url, now=NOON + timedelta(seconds=5))


def test_a_link_checks_with_the_same_secret_at_any_base_url_spelling() -> None:
    link = LinkSigner(SECRET, BASE + "/").sign("documents", "a.txt", NOON + MINUTES)

    assert link.url.startswith(BASE + "/documents/a.txt?")
    assert LinkSigner(SECRET, BASE).verify(link.url, now=NOON) == ("documents", "a.txt")


def test_a_link_signed_with_another_secret_is_refused() -> None:
    link = LinkSigner(b"o" * 32, BASE).sign("documents", "a.txt", NOON + MINUTES)

    with pytest.raises(InvalidDownloadLink, match="signature"):
        LinkSigner(SECRET, BASE).verify(link.url, now=NOON)


def test_a_link_to_another_base_url_is_not_ours() -> None:
    link = LinkSigner(SECRET, "https://elsewhere.example.com/files").sign(
        "documents", "a.txt", NOON + MINUTES
    )

    with pytest.raises(InvalidDownloadLink, match="not a download link"):
        LinkSigner(SECRET, BASE).verify(link.url, now=NOON)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/documents/a.txt?", "/documents/b.txt?"),
        ("/documents/a.txt?", "/archive/a.txt?"),
        ("/documents/a.txt?", "/documents/a.txt/x?"),
    ],
    ids=["name", "container", "longer-name"],
)
def test_a_link_whose_path_was_changed_is_refused(old: str, new: str) -> None:
    signer = LinkSigner(SECRET, BASE)
    link = signer.sign("documents", "a.txt", NOON + MINUTES)

    with pytest.raises(InvalidDownloadLink, match="signature"):
        signer.verify(link.url.replace(old, new), now=NOON)


def test_a_link_whose_expiry_was_stretched_is_refused() -> None:
    signer = LinkSigner(SECRET, BASE)
    link = signer.sign("documents", "a.txt", NOON + MINUTES)
    expires = int((NOON + MINUTES).timestamp())

    stretched = link.url.replace(f"expires={expires}", f"expires={expires + 86_400}")

    assert stretched != link.url
    with pytest.raises(InvalidDownloadLink, match="signature"):
        signer.verify(stretched, now=NOON)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "expires=1893499200",
        "signature=abc",
        "expires=soon&signature=abc",
        "expires=1&expires=2&signature=abc",
    ],
    ids=["nothing", "no-signature", "no-expiry", "expiry-not-a-number", "two-expiries"],
)
def test_a_link_without_one_expiry_and_one_signature_is_refused(query: str) -> None:
    with pytest.raises(InvalidDownloadLink, match="needs one expires and one signature"):
        LinkSigner(SECRET, BASE).verify(f"{BASE}/documents/a.txt?{query}", now=NOON)


@pytest.mark.parametrize(
    "signature",
    ["", "é" * 43, "%C3%A9" * 43, "%00" * 43, "A" * 100_000, "\u2028", "%FF%FE"],
    ids=["empty", "non-ascii", "escaped-non-ascii", "nul", "huge", "line-separator", "not-utf8"],
)
def test_a_garbage_signature_is_refused_as_an_invalid_link(signature: str) -> None:
    signer = LinkSigner(SECRET, BASE)
    expires = int((NOON + MINUTES).timestamp())

    with pytest.raises(InvalidDownloadLink):
        signer.verify(f"{BASE}/documents/a.txt?expires={expires}&signature={signature}", now=NOON)


@pytest.mark.parametrize(
    "tail",
    [
        "//[::1/a.txt?expires=1&signature=x",
        "documents/a.txt?" + "&".join(f"k{n}=v" for n in range(10_000)),
        "documents/a.txt?expires=" + "9" * 5_000 + "&signature=x",
        "documents/" + "a" * 100_000 + "?expires=1&signature=x",
        "documents/%00.txt?expires=1&signature=%00",
        "?expires=1&signature=x",
        "",
    ],
    ids=[
        "bracketed-host",
        "many-fields",
        "huge-expiry",
        "huge-name",
        "nul-name",
        "no-path",
        "nothing-after-base",
    ],
)
def test_a_garbage_link_is_refused_as_an_invalid_link(tail: str) -> None:
    with pytest.raises(InvalidDownloadLink):
        LinkSigner(SECRET, BASE).verify(f"{BASE}/{tail}", now=NOON)


def test_a_signing_secret_shorter_than_16_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        LinkSigner(b"short", BASE)


# --- LocalFileStore: the signing key ---------------------------------------------------


async def test_the_signing_key_is_made_owner_only_and_reused_by_another_store_on_the_root(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    first = LocalFileStore(tmp_path, "documents", clock=clock)
    await first.create()
    await first.write("a.txt", b"shared")

    link = await first.download_link("a.txt", expires_in=MINUTES)

    key_file = tmp_path / ".signing-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes()
    assert len(key) == 32
    second = LocalFileStore(tmp_path, "documents", clock=clock)
    assert second.resolve(link.url).read_bytes() == b"shared"
    again = await second.download_link("a.txt", expires_in=MINUTES)
    assert again.url == link.url
    assert key_file.read_bytes() == key
    assert [f.name for f in await second.list()] == ["a.txt"]


async def test_no_key_file_is_made_until_a_link_is_needed(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path, "documents", clock=ManualClock())
    await store.create()
    await store.write("a.txt", b"a")

    assert not (tmp_path / ".signing-key").exists()


async def test_a_link_signed_with_another_roots_key_is_refused(tmp_path: Path) -> None:
    clock = ManualClock()
    here = LocalFileStore(tmp_path / "here", "documents", clock=clock)
    there = LocalFileStore(tmp_path / "there", "documents", clock=clock)
    for store in (here, there):
        await store.create()
        await store.write("a.txt", b"a")

    link = await there.download_link("a.txt", expires_in=MINUTES)

    assert there.resolve(link.url).read_bytes() == b"a"
    with pytest.raises(InvalidDownloadLink, match="signature"):
        here.resolve(link.url)


async def test_stores_given_the_same_secret_accept_each_others_links(tmp_path: Path) -> None:
    clock = ManualClock()
    here = LocalFileStore(tmp_path / "here", "documents", secret=SECRET, clock=clock)
    there = LocalFileStore(tmp_path / "there", "documents", secret=SECRET, clock=clock)
    for store in (here, there):
        await store.create()
        await store.write("a.txt", store.directory.parent.name.encode())

    link = await there.download_link("a.txt", expires_in=MINUTES)

    assert here.resolve(link.url).read_bytes() == b"here"
    assert not (tmp_path / "here" / ".signing-key").exists()


async def test_a_link_for_another_container_on_the_same_root_is_refused(tmp_path: Path) -> None:
    clock = ManualClock()
    documents = LocalFileStore(tmp_path, "documents", clock=clock)
    archive = LocalFileStore(tmp_path, "archive", clock=clock)
    for store in (documents, archive):
        await store.create()
        await store.write("a.txt", store.container.encode())

    link = await archive.download_link("a.txt", expires_in=MINUTES)

    assert archive.resolve(link.url).read_bytes() == b"archive"
    # Signed by the same key, so the signature holds; the store still refuses another
    # container's link.
    with pytest.raises(InvalidDownloadLink, match="for the container 'archive'"):
        documents.resolve(link.url)


async def test_resolving_an_expired_link_is_refused_and_a_deleted_file_is_not_found(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    store = LocalFileStore(tmp_path, "documents", clock=clock)
    await store.create()
    await store.write("a.txt", b"a")
    await store.write("b.txt", b"b")
    a_link = await store.download_link("a.txt", expires_in=MINUTES)
    b_link = await store.download_link("b.txt", expires_in=MINUTES * 2)

    await store.delete("b.txt")
    with pytest.raises(StoredFileNotFound):
        store.resolve(b_link.url)
    clock.advance(MINUTES)
    with pytest.raises(InvalidDownloadLink, match="expired"):
        store.resolve(a_link.url)


async def test_links_point_at_the_default_files_url_or_the_one_given(tmp_path: Path) -> None:
    clock = ManualClock()
    default = LocalFileStore(tmp_path, "documents", clock=clock)
    custom = LocalFileStore(tmp_path, "documents", base_url=BASE + "/", clock=clock)
    await default.create()
    await default.write("a b.txt", b"a")

    assert (await default.download_link("a b.txt", expires_in=MINUTES)).url.startswith(
        f"{DEFAULT_FILES_URL}/documents/a%20b.txt?expires="
    )
    link = await custom.download_link("a b.txt", expires_in=MINUTES)
    assert link.url.startswith(f"{BASE}/documents/a%20b.txt?expires=")
    assert custom.resolve(link.url).read_bytes() == b"a"
    with pytest.raises(InvalidDownloadLink, match="not a download link"):
        default.resolve(link.url)


# --- LocalFileStore: files on disk -----------------------------------------------------


def paths_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


async def test_a_partially_written_temporary_file_is_never_listed(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path, "documents", clock=ManualClock())
    await store.create()
    await store.write("reports/q3.csv", b"done")
    (store.directory / ".partial-xyz").write_bytes(b"half a fi")
    (store.directory / "reports" / ".partial-abc").write_bytes(b"half")

    assert [f.name for f in await store.list()] == ["reports/q3.csv"]
    assert [f.name for f in await store.list("reports/")] == ["reports/q3.csv"]


async def test_a_write_leaves_only_the_file_behind(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path, "documents", clock=ManualClock())
    await store.create()

    await store.write("reports/q3.csv", b"first")
    await store.write("reports/q3.csv", b"second")

    assert paths_under(tmp_path) == ["documents", "documents/reports", "documents/reports/q3.csv"]


async def test_a_failed_write_keeps_the_old_file_whole_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalFileStore(tmp_path, "documents", clock=ManualClock())
    await store.create()
    await store.write("q3.csv", b"old and whole")

    def disk_full(src: str, dst: str, **_: object) -> None:
        raise OSError(28, "No space left on device")

    # The store renames its temporary file into place with os.replace.
    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        await store.write("q3.csv", b"new")
    monkeypatch.undo()

    assert await store.read("q3.csv") == b"old and whole"
    assert os.listdir(store.directory) == ["q3.csv"]


async def test_the_local_store_guesses_the_content_type_from_the_name(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path, "documents", clock=ManualClock())
    await store.create()
    await store.write("bundle.zip", b"PK", content_type="application/zip")
    await store.write("notes.csv", b"a,b")

    assert [(f.name, f.content_type) for f in await store.list()] == [
        ("bundle.zip", "application/zip"),
        ("notes.csv", "text/csv"),
    ]


async def test_sqlite_storage_keeps_files_in_a_folder_named_after_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStorage("x/demo.db").files("documents", clock=ManualClock())
    assert isinstance(store, LocalFileStore)
    await store.create()

    await store.write("reports/q3.csv", b"q3")
    link = await store.download_link("reports/q3.csv", expires_in=MINUTES)

    assert store.directory == Path("x/demo.files/documents")
    assert (tmp_path / "x/demo.files/documents/reports/q3.csv").read_bytes() == b"q3"
    assert (tmp_path / "x/demo.files/.signing-key").is_file()
    assert link.url.startswith(f"{DEFAULT_FILES_URL}/documents/reports/q3.csv?")
    await store.close()


async def test_sqlite_storage_uses_the_files_root_and_url_it_is_given(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "jobs.db", files_root=tmp_path / "blobs", files_url=BASE)
    store = storage.files("documents", clock=ManualClock())
    assert isinstance(store, LocalFileStore)
    await store.create()
    await store.write("a.txt", b"a")

    link = await store.download_link("a.txt", expires_in=MINUTES)

    assert (tmp_path / "blobs/documents/a.txt").read_bytes() == b"a"
    assert link.url.startswith(f"{BASE}/documents/a.txt?")


def test_stores_racing_to_make_the_signing_key_all_end_up_with_the_same_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fdopen = os.fdopen

    def slow_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # widen the moment between making a key file and filling it
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", slow_fdopen)
    clock = ManualClock()
    stores = [LocalFileStore(tmp_path, "documents", clock=clock) for _ in range(8)]
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "a.txt").write_bytes(b"a")
    start = threading.Barrier(len(stores))

    def sign(store: LocalFileStore) -> str:
        start.wait()
        return asyncio.run(store.download_link("a.txt", expires_in=MINUTES)).url

    with ThreadPoolExecutor(len(stores)) as pool:
        links = list(pool.map(sign, stores))

    assert len((tmp_path / ".signing-key").read_bytes()) == 32
    assert len(set(links)) == 1  # one key: every store signed the same link
    assert all(store.resolve(links[0]).read_bytes() == b"a" for store in stores)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-")] == []


async def test_a_name_cannot_be_both_a_file_and_a_folder_on_disk(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path, "documents")
    await store.write("a/b.txt", b"b")

    with pytest.raises(InvalidFileName, match="both a file and a folder"):
        await store.write("a", b"a")
    with pytest.raises(InvalidFileName, match="both a file and a folder"):
        await store.write("a/b.txt/c", b"c")
    assert await store.delete("a") is False
    assert await store.delete("a/b.txt/c") is False
    assert await store.read("a/b.txt") == b"b"


async def test_names_of_partial_writes_are_refused(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path, "documents")

    with pytest.raises(InvalidFileName, match="partial writes"):
        await store.write("reports/.partial-1", b"x")
