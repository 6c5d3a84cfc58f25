"""What the local directory store must never do: follow a link out of its container, walk
more than the folder a prefix names, or leave files for other local users to read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.errors import (
    ConfigurationError,
    InvalidDownloadLink,
    InvalidFileName,
    StoredFileNotFound,
)
from queued_jobs.files.local import LocalFileStore

MINUTES = timedelta(minutes=10)
SECRET_TEXT = b"root:x:0:0:the secret outside the container\n"


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files", "documents", clock=ManualClock())


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the store's root holding a secret file (think ``/etc``)."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "passwd").write_bytes(SECRET_TEXT)
    return folder


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The umask most systems give users: group and others may read what is created."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def real(path: Path) -> str:
    """The path the kernel gives for an open descriptor of ``path`` (links resolved)."""
    return os.path.realpath(path)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def assert_no_file(store: LocalFileStore, name: str) -> None:
    """``name`` is no stored file by every verb: not read, listed, linked or deleted."""
    with pytest.raises(StoredFileNotFound):
        await store.read(name)
    with pytest.raises(StoredFileNotFound):
        async for _ in store.read_chunks(name):
            pass
    with pytest.raises(StoredFileNotFound):
        await store.download_link(name, expires_in=MINUTES)
    assert name not in [f.name for f in await store.list()]
    assert await store.delete(name) is False


# --- links inside the container are never followed -------------------------------------


async def test_a_link_to_a_file_outside_is_no_stored_file(
    store: LocalFileStore, outside: Path
) -> None:
    await store.write("ada/invoice.csv", b"mine")
    (store.directory / "ada" / "passwd").symlink_to(outside / "passwd")

    await assert_no_file(store, "ada/passwd")

    assert [f.name for f in await store.list()] == ["ada/invoice.csv"]
    assert (outside / "passwd").read_bytes() == SECRET_TEXT


async def test_a_link_to_the_signing_key_is_no_stored_file(store: LocalFileStore) -> None:
    await store.write("ada/invoice.csv", b"mine")
    await store.download_link("ada/invoice.csv", expires_in=MINUTES)  # makes the key
    key = store.directory.parent / ".signing-key"
    assert key.is_file()
    (store.directory / "key").symlink_to(key)
    (store.directory / "key-relative").symlink_to("../.signing-key")

    await assert_no_file(store, "key")
    await assert_no_file(store, "key-relative")
    assert key.is_file()


async def test_a_folder_that_is_a_link_is_never_entered(
    store: LocalFileStore, outside: Path
) -> None:
    await store.create()
    (store.directory / "ada").symlink_to(outside, target_is_directory=True)

    await assert_no_file(store, "ada/passwd")
    assert await store.list("ada/") == []
    assert await store.list("ad") == []
    with pytest.raises(InvalidFileName, match="link"):
        await store.write("ada/planted.sh", b"#!/bin/sh\n")
    with pytest.raises(InvalidFileName, match="link"):
        await store.write("ada/new/planted.sh", b"#!/bin/sh\n")

    assert names_in(outside) == ["passwd"]
    assert (outside / "passwd").read_bytes() == SECRET_TEXT


async def test_a_link_deeper_in_the_container_is_never_entered(
    store: LocalFileStore, outside: Path
) -> None:
    await store.write("ada/docs/a.txt", b"a")
    (store.directory / "ada" / "docs" / "etc").symlink_to(outside, target_is_directory=True)

    await assert_no_file(store, "ada/docs/etc/passwd")

    assert [f.name for f in await store.list("ada/")] == ["ada/docs/a.txt"]
    with pytest.raises(InvalidFileName):
        await store.write("ada/docs/etc/passwd", b"overwritten")
    assert (outside / "passwd").read_bytes() == SECRET_TEXT


async def test_writing_over_a_link_replaces_the_link_and_leaves_its_target_alone(
    store: LocalFileStore, outside: Path
) -> None:
    await store.create()
    (store.directory / "passwd").symlink_to(outside / "passwd")

    await store.write("passwd", b"a stored file now")

    assert await store.read("passwd") == b"a stored file now"
    assert not (store.directory / "passwd").is_symlink()
    assert (outside / "passwd").read_bytes() == SECRET_TEXT


async def test_a_signed_link_to_a_name_later_made_a_link_is_refused(
    store: LocalFileStore, outside: Path
) -> None:
    await store.write("ada/report.csv", b"report")
    link = await store.download_link("ada/report.csv", expires_in=MINUTES)
    (store.directory / "ada" / "report.csv").unlink()
    (store.directory / "ada" / "report.csv").symlink_to(outside / "passwd")

    with pytest.raises(StoredFileNotFound):
        store.resolve(link.url)


async def test_a_link_is_opened_as_the_stored_file_it_grants_and_never_through_a_link(
    store: LocalFileStore, outside: Path
) -> None:
    await store.write("ada/report.csv", b"report")
    link = await store.download_link("ada/report.csv", expires_in=MINUTES)
    with store.open_link(link.url) as opened:
        assert opened.read() == b"report"
    (store.directory / "ada" / "report.csv").unlink()
    (store.directory / "ada" / "report.csv").symlink_to(outside / "passwd")

    with pytest.raises(StoredFileNotFound):
        store.open_link(link.url)
    with pytest.raises(InvalidDownloadLink):
        store.open_link(link.url.replace("signature=", "signature=%C3%A9"))


async def test_a_pipe_at_a_name_is_no_stored_file_and_reading_it_does_not_hang(
    store: LocalFileStore,
) -> None:
    await store.create()
    os.mkfifo(store.directory / "pipe")

    await assert_no_file(store, "pipe")


async def test_a_file_on_disk_whose_name_is_not_utf8_is_not_listed(store: LocalFileStore) -> None:
    await store.write("ada/ok.txt", b"ok")
    folder = os.fsencode(store.directory / "ada")
    fd = os.open(folder + b"/caf\xe9.txt", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)

    assert [f.name for f in await store.list()] == ["ada/ok.txt"]
    assert [f.name for f in await store.list("ada/")] == ["ada/ok.txt"]


async def test_a_garbage_link_is_refused_by_resolve(store: LocalFileStore) -> None:
    await store.write("a.txt", b"a")
    link = await store.download_link("a.txt", expires_in=MINUTES)
    for garbage in [
        link.url.replace("signature=", "signature=%C3%A9"),
        link.url.split("signature=")[0] + "signature=" + "é" * 43,
        link.url.split("signature=")[0] + "signature=",
        link.url.split("signature=")[0] + "signature=%00",
        link.url + "A" * 100_000,
    ]:
        with pytest.raises(InvalidDownloadLink):
            store.resolve(garbage)


# --- a listing walks only the folder its prefix names ----------------------------------


def _many_files(folder: Path, folders: int, per_folder: int) -> None:
    for number in range(folders):
        sub = folder / f"other-{number}"
        sub.mkdir(parents=True)
        fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for index in range(per_folder):
                os.close(os.open(f"f{index}.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
        finally:
            os.close(fd)


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder the store scans, by path (the real ``os.scandir`` still does it)."""
    seen: list[str] = []
    scandir = os.scandir

    def recording(path: Any = ".") -> Any:
        if isinstance(path, int):
            seen.append(os.readlink(f"/proc/self/fd/{path}"))
        else:
            seen.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", recording)
    return seen


async def test_listing_a_prefix_walks_only_its_folder_among_100k_files(
    store: LocalFileStore, walked: list[str]
) -> None:
    await store.write("ada/invoices/2026-11/INV-1.csv", b"1")
    await store.write("ada/invoices/2026-11/INV-2.csv", b"2")
    await store.write("ada/invoices/2026-10/INV-0.csv", b"0")
    await store.write("ada/reports/q3.md", b"q3")
    _many_files(store.directory / "grace", folders=100, per_folder=1000)
    root = real(store.directory)
    walked.clear()

    listed = await store.list("ada/invoices/2026-11/")

    assert [f.name for f in listed] == [
        "ada/invoices/2026-11/INV-1.csv",
        "ada/invoices/2026-11/INV-2.csv",
    ]
    assert walked == [f"{root}/ada/invoices/2026-11"]


async def test_a_prefix_ending_mid_segment_walks_its_folder_and_the_matching_entries_only(
    store: LocalFileStore, walked: list[str]
) -> None:
    await store.write("ada/invoices/2026-11/INV-1.csv", b"1")
    await store.write("ada/invoices/2026-10/INV-0.csv", b"0")
    await store.write("ada/invoices/2025-12/INV-9.csv", b"9")
    await store.write("ada/invoices/2026.txt", b"note")
    root = real(store.directory)
    walked.clear()

    listed = await store.list("ada/invoices/2026")

    assert [f.name for f in listed] == [
        "ada/invoices/2026-10/INV-0.csv",
        "ada/invoices/2026-11/INV-1.csv",
        "ada/invoices/2026.txt",
    ]
    assert sorted(walked) == [
        f"{root}/ada/invoices",
        f"{root}/ada/invoices/2026-10",
        f"{root}/ada/invoices/2026-11",
    ]


@pytest.mark.parametrize("prefix", ["../", "ada/../", "./", "ada//", "/ada", "ada/./x", "a\\b/"])
async def test_a_prefix_no_stored_name_can_start_with_lists_nothing_and_walks_nothing(
    store: LocalFileStore, walked: list[str], prefix: str
) -> None:
    await store.write("ada/a.txt", b"a")
    walked.clear()

    assert await store.list(prefix) == []
    assert walked == []


# --- permissions -----------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
async def test_files_and_folders_are_their_owners_alone_under_a_umask_of_022(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data" / "files"
    store = LocalFileStore(root, "documents", clock=ManualClock())

    await store.write("ada/invoices/INV-1.csv", b"1")
    await store.download_link("ada/invoices/INV-1.csv", expires_in=MINUTES)

    assert mode_of(store.directory / "ada" / "invoices" / "INV-1.csv") == 0o600
    for folder in [
        tmp_path / "data",
        root,
        store.directory,
        store.directory / "ada",
        store.directory / "ada" / "invoices",
    ]:
        assert mode_of(folder) == 0o700, folder
    assert mode_of(root / ".signing-key") == 0o600


@pytest.mark.usefixtures("umask_022")
async def test_create_makes_the_container_its_owners_alone(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files", "documents")

    await store.create()

    assert mode_of(tmp_path / "files") == 0o700
    assert mode_of(store.directory) == 0o700


@pytest.mark.usefixtures("umask_022")
async def test_modes_given_for_a_file_server_of_another_user_are_used(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files", "documents", file_mode=0o640, directory_mode=0o750)

    await store.write("ada/a.txt", b"a")
    await store.write("ada/a.txt", b"again")

    assert mode_of(store.directory / "ada" / "a.txt") == 0o640
    assert mode_of(store.directory / "ada") == 0o750
    assert mode_of(store.directory) == 0o750


async def test_a_folder_that_exists_keeps_its_mode(tmp_path: Path) -> None:
    (tmp_path / "files" / "documents").mkdir(parents=True)
    os.chmod(tmp_path / "files" / "documents", 0o755)
    store = LocalFileStore(tmp_path / "files", "documents")

    await store.write("a.txt", b"a")

    assert mode_of(store.directory) == 0o755
    assert mode_of(store.directory / "a.txt") == 0o600


@pytest.mark.parametrize(
    ("option", "mode"),
    [
        ("file_mode", 0o400),
        ("file_mode", 0o4600),
        ("file_mode", -1),
        ("directory_mode", 0o600),
        ("directory_mode", 0o1777),
    ],
)
def test_a_mode_that_cannot_work_is_refused_when_the_store_is_made(
    tmp_path: Path, option: str, mode: int
) -> None:
    with pytest.raises(ConfigurationError, match=option):
        LocalFileStore(tmp_path, "documents", **{option: mode})
