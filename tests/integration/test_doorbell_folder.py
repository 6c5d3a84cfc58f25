"""The SQLite doorbell trusts only a folder of its own user's alone, and touches nothing in
it but listeners' sockets: another local user who can write the database's folder cannot
make a worker delete, or write to, what that user chooses. Without a trusted folder the
doorbell is off and workers poll."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from queued_jobs import JobApp, JobStatus, QueuedJob, SqliteStorage, WorkerSettings
from queued_jobs._sqlite.doorbell import Doorbell
from tests.support.waiting import PATIENCE

POLLING = WorkerSettings(poll_max=timedelta(milliseconds=50), sweep_interval=None)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A short folder of the test's own: a doorbell's socket path must fit a Unix
    socket's address (about 100 bytes), which pytest's own folders under a parallel run
    may not leave room for (the doorbell then stays silent, and workers poll)."""
    folder = Path(tempfile.mkdtemp(prefix="qj-bell-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def dead_socket(path: Path) -> Path:
    """A socket file whose process is gone, as after a crash."""
    orphan = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    orphan.bind(str(path))
    orphan.close()
    return path


def precious_folder(root: Path) -> list[Path]:
    """A folder full of what a ring must never delete; its entries."""
    root.mkdir()
    (root / "inner").mkdir()
    entries = [root / "report.txt", root / "999999-deadbeef", root / "inner"]
    entries[0].write_text("keep me")
    entries[1].write_text("named like a socket")
    entries.append(dead_socket(root / "424242-cafecafe"))
    return entries


def still_there(entries: list[Path]) -> list[Path]:
    return [entry for entry in entries if os.path.lexists(entry)]


async def run_one_job(app: JobApp) -> QueuedJob:
    """Queue a job to a polling worker of ``app`` and wait for its end."""
    ended: asyncio.Future[QueuedJob] = asyncio.get_running_loop().create_future()

    async def note(job: QueuedJob) -> None:
        if job.is_terminal and not ended.done():
            ended.set_result(job)

    app.listeners.append(note)
    async with app.client() as client:
        await client.create_storage()
        worker = app.worker(POLLING, identity="polling")
        running = asyncio.create_task(worker.run())
        await client.queue_job("nap", 1, owner="a")
        async with asyncio.timeout(PATIENCE):
            job = await ended
        worker.stop()
        await running
        await worker.close()
    return job


def nap_app(path: Path) -> JobApp:
    app = JobApp(SqliteStorage(path))
    app.job(name="nap")(lambda request: None)
    return app


async def test_a_bell_folder_that_is_a_link_is_not_followed_and_workers_still_run_jobs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entries = precious_folder(tmp_path / "victim")
    (tmp_path / "jobs.db.bell").symlink_to(tmp_path / "victim", target_is_directory=True)
    doorbell = Doorbell(tmp_path / "jobs.db")

    with caplog.at_level(logging.WARNING, logger="queued_jobs.sqlite"):
        assert doorbell.listen() is None
        doorbell.ring()
        job = await run_one_job(nap_app(tmp_path / "jobs.db"))  # it rings on every send

    assert still_there(entries) == entries
    assert job.status is JobStatus.SUCCEEDED  # found by polling
    assert "doorbell" in caplog.text
    assert "poll" in caplog.text
    doorbell.close()


def test_a_ring_deletes_only_dead_sockets_named_as_listeners_name_theirs(
    tmp_path: Path,
) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    doorbell.folder.mkdir(mode=0o700)
    kept = [doorbell.folder / "999999-deadbeef", doorbell.folder / "notes.txt"]
    for path in kept:
        path.write_text("a stray file")
    kept.append(dead_socket(doorbell.folder / "not-a-listener.sock"))
    elsewhere = dead_socket(tmp_path / "elsewhere.sock")
    kept.append(doorbell.folder / "888888-feedface")
    kept[-1].symlink_to(elsewhere)
    dead = dead_socket(doorbell.folder / "777777-0badf00d")

    doorbell.ring()

    assert not os.path.lexists(dead)
    assert still_there(kept) == kept
    assert elsewhere.exists()
    doorbell.close()


def test_a_bell_folder_others_may_read_but_not_write_is_closed_to_them_and_used(
    tmp_path: Path,
) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    doorbell.folder.mkdir()
    doorbell.folder.chmod(0o755)  # as earlier versions made it

    listener = doorbell.listen()

    assert listener is not None
    assert stat.S_IMODE(doorbell.folder.stat().st_mode) == 0o700
    listener.close()
    doorbell.close()


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o707, 0o757], ids=oct)
def test_a_bell_folder_that_other_users_may_write_in_is_refused(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    doorbell.folder.mkdir()
    doorbell.folder.chmod(mode)
    planted = dead_socket(doorbell.folder / "999999-deadbeef")

    with caplog.at_level(logging.WARNING, logger="queued_jobs.sqlite"):
        assert doorbell.listen() is None
        doorbell.ring()

    assert planted.exists()  # not even rung
    assert f"{mode:04o}" in caplog.text
    doorbell.close()


def test_a_bell_folder_of_another_user_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    doorbell.folder.mkdir(mode=0o700)
    planted = dead_socket(doorbell.folder / "999999-deadbeef")
    owner = doorbell.folder.stat().st_uid
    # The process runs as another user than the folder's owner (no root needed for that).
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)

    with caplog.at_level(logging.WARNING, logger="queued_jobs.sqlite"):
        assert doorbell.listen() is None
        doorbell.ring()

    assert planted.exists()
    assert f"belongs to user id {owner}" in caplog.text
    doorbell.close()


def test_a_bell_that_is_a_file_is_refused_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    doorbell.folder.write_text("not a folder")

    with caplog.at_level(logging.WARNING, logger="queued_jobs.sqlite"):
        assert doorbell.listen() is None
        doorbell.ring()

    assert doorbell.folder.read_text() == "not a folder"
    assert "doorbell" in caplog.text


async def test_the_bell_folder_is_made_for_its_user_alone_and_still_rings(
    tmp_path: Path,
) -> None:
    doorbell = Doorbell(tmp_path / "new" / "jobs.db")
    listener = doorbell.listen()
    assert listener is not None

    doorbell.ring()

    async with asyncio.timeout(PATIENCE):
        await listener.wait()
    assert doorbell.folder.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    listener.close()
    assert list(doorbell.folder.iterdir()) == []
    doorbell.close()


def test_a_listener_closed_twice_closes_nothing_else(tmp_path: Path) -> None:
    doorbell = Doorbell(tmp_path / "jobs.db")
    listener = doorbell.listen()
    assert listener is not None
    listener.close()
    other = os.open(tmp_path, os.O_RDONLY)  # likely reuses the listener's folder descriptor

    listener.close()

    os.fstat(other)  # still open
    os.close(other)


async def test_a_ring_made_just_before_the_bell_closes_is_sent_and_leaves_no_socket_open(
    tmp_path: Path,
) -> None:
    heard: list[bytes] = []
    rung = asyncio.Event()
    listening = Doorbell(tmp_path / "jobs.db").listen(lambda d: (heard.append(d), rung.set()))
    assert listening is not None
    listening.start()
    bell = Doorbell(tmp_path / "jobs.db")

    bell.ring()  # in this turn of the loop: sent at its end, or when the bell closes
    bell.close()
    await asyncio.sleep(0)  # the turn ends: nothing is sent again, no socket is made
    await asyncio.wait_for(rung.wait(), PATIENCE)

    assert heard == [b"!"]
    listening.close()
    gc.collect()  # a socket left open would warn here (warnings are errors)
