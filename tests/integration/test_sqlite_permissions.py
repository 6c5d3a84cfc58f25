"""The embedded database holds jobs' requests, results and signed links: the files and
folders queued-jobs creates for it are its owner's alone, whatever the umask lets through;
what exists already keeps its mode; a mode can be chosen."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from queued_jobs import JobApp, SqliteStorage
from queued_jobs.errors import StorageError
from queued_jobs.repositories.sqlite import SqliteJobRepository


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def modes_while_in_use(storage: SqliteStorage) -> dict[str, int]:
    """The modes of the database, its write-ahead log and its shared memory, with a job
    written and the database still open."""
    app = JobApp(storage)
    app.job(name="nap")(lambda request: None)
    database = Path(storage.path)
    async with app.client() as client:
        await client.create_storage()
        await client.queue_job("nap", 1, owner="a")
        return {
            suffix: mode(database.with_name(database.name + suffix))
            for suffix in ("", "-wal", "-shm")
        }


async def test_a_new_database_its_log_and_its_folders_are_their_owners_alone(
    tmp_path: Path,
) -> None:
    database = tmp_path / "data" / "deeper" / "jobs.db"

    modes = await modes_while_in_use(SqliteStorage(database))

    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "deeper") == 0o700


async def test_an_existing_database_and_folder_keep_their_modes(tmp_path: Path) -> None:
    database = tmp_path / "shared" / "jobs.db"
    database.parent.mkdir(mode=0o755)
    database.touch(mode=0o644)

    modes = await modes_while_in_use(SqliteStorage(database))

    assert modes == {"": 0o644, "-wal": 0o644, "-shm": 0o644}
    assert mode(database.parent) == 0o755


async def test_a_chosen_mode_is_given_to_a_new_database(tmp_path: Path) -> None:
    modes = await modes_while_in_use(SqliteStorage(tmp_path / "jobs.db", file_mode=0o640))

    assert modes == {"": 0o640, "-wal": 0o640, "-shm": 0o640}


def test_a_database_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")

    async def create() -> None:
        repository = SqliteJobRepository(tmp_path / "file" / "jobs.db")
        try:
            await repository.create()
        finally:
            await repository.close()

    with pytest.raises(StorageError, match="cannot create it"):
        asyncio.run(create())


async def test_the_embedded_files_get_the_storages_modes(tmp_path: Path) -> None:
    private = SqliteStorage(tmp_path / "a" / "jobs.db").files("docs")
    shared = SqliteStorage(tmp_path / "b" / "jobs.db", file_mode=0o640, directory_mode=0o750).files(
        "docs"
    )
    old = os.umask(0o022)
    try:
        for store in (private, shared):
            await store.write("ada/report.txt", b"figures")
    finally:
        os.umask(old)

    def modes(root: Path) -> tuple[int, int]:
        folder = root / "jobs.files" / "docs" / "ada"
        return stat.S_IMODE(folder.stat().st_mode), stat.S_IMODE(
            (folder / "report.txt").stat().st_mode
        )

    assert modes(tmp_path / "a") == (0o700, 0o600)
    assert modes(tmp_path / "b") == (0o750, 0o640)
