"""Arrival hints across processes for one SQLite file, so idle workers need not poll fast.

Every listening process binds a Unix datagram socket in ``<file>.bell/``; a sender writes
one byte to each socket there after its message is committed. A socket whose process died
refuses the byte and is removed by the next sender. Where Unix sockets are missing (or the
path is too long for one), there is no doorbell and workers simply poll.

The folder is trusted only if it is a real folder (not a symbolic link) of this process's
user that no one else may enter (mode 0700; it is created so). Otherwise the doorbell is
off, with a warning, and workers poll: another local user who could write the database's
folder must not be able to make a sender write to, or delete, what that user chooses.
Senders only touch entries named as listeners name their sockets, that are sockets
themselves (never following a link), inside the folder opened once and checked (on Linux,
through ``/proc/self/fd``, so that the folder cannot be swapped between check and use).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .._private import PRIVATE_DIRECTORY, make_directories
from ..telemetry.logs import library_logger

__all__ = ["MAX_PAYLOAD", "Doorbell"]

log = library_logger("queued_jobs.sqlite")

#: The most a ring's datagram holds (well under every platform's datagram limit).
MAX_PAYLOAD: Final = 2048
#: Shortest limit among platforms for a Unix socket path (macOS: 104 bytes with the NUL).
_MAX_SOCKET_PATH: Final = 103
#: How a listener names its socket: its process id and 8 random hex digits.
_SOCKET_NAME: Final = re.compile(r"[0-9]{1,10}-[0-9a-f]{8}")
#: Where the folder opened by its descriptor can be named (Linux).
_PROC_FD: Final = Path("/proc/self/fd")
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class Doorbell:
    """Rings every process listening on one database file."""

    def __init__(self, database: Path, *, suffix: str = ".bell") -> None:
        """``suffix``: of the folder's name after the database's (one folder per bell)."""
        self.folder = database.with_name(database.name + suffix)
        self._sender: socket.socket | None = None
        #: The event loop a ring is scheduled on: the sends of a batch ring once.
        self._ringing: asyncio.AbstractEventLoop | None = None
        self._warned = False

    def ring(self) -> None:
        """Tell listeners a message may be waiting (never blocks, never raises). In an
        event loop, rings made in one turn of the loop ring once, at the end of the turn."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.send(self.payload())
            return
        if self._ringing is not loop:
            self._ringing = loop
            loop.call_soon(self._ring_now)

    def _ring_now(self) -> None:
        if self._ringing is None:  # rung already: by close, in the same turn
            return
        self._ringing = None
        self.send(self.payload())

    def payload(self) -> bytes:
        """What a ring sends to every listener: here one byte, "look"."""
        return b"!"

    def send(self, payload: bytes) -> None:
        """Send ``payload`` (one datagram, at most :data:`MAX_PAYLOAD` bytes) to every
        listener now (never blocks, never raises)."""
        if not hasattr(socket, "AF_UNIX"):
            return
        folder = self._trusted_folder()
        if folder is None:
            return  # nobody has listened yet, or the folder is not ours alone
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            for name in folder.sockets():
                try:
                    self._sender.sendto(payload[:MAX_PAYLOAD], folder.address(name))
                except ConnectionRefusedError:  # its process is gone
                    folder.remove(name)
                except OSError:  # a full buffer means it has been rung already
                    pass
        except OSError as exc:
            log.debug("could not ring the doorbell %s: %s", self.folder, exc)
        finally:
            folder.close()

    def listen(self, heard: Callable[[bytes], None] | None = None) -> _Listener | None:
        """A listener for this process, or ``None`` where the platform has no doorbell
        (or its folder cannot be trusted: then a warning says why). ``heard`` is called
        with each datagram received, in the event loop, once the listener waits."""
        if not hasattr(socket, "AF_UNIX"):
            return None
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        if len(os.fsencode(self.folder / name)) > _MAX_SOCKET_PATH:
            log.debug("no doorbell for %s: the path is too long for a Unix socket", self.folder)
            return None
        try:
            make_directories(self.folder)
        except OSError as exc:
            self._distrust(f"it cannot be made a folder ({exc})")
            return None
        folder = self._trusted_folder()
        if folder is None:
            return None
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            receiver.bind(folder.address(name))
        except OSError as exc:
            receiver.close()
            folder.close()
            log.debug("no doorbell for %s: %s", self.folder, exc)
            return None
        receiver.setblocking(False)
        return _Listener(receiver, folder, name, heard)

    def close(self) -> None:
        """Send the ring of this turn not sent yet (a write just before a client closes:
        its waiters must hear of it), then close the sending socket."""
        self._ring_now()
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def _trusted_folder(self) -> _Folder | None:
        """The folder, opened, if it exists and is this user's alone; else ``None`` (with
        a warning, once, if it exists but cannot be trusted)."""
        try:
            descriptor = os.open(self.folder, _OPEN_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a symbolic link (ELOOP), a file (ENOTDIR), no access
            self._distrust(f"it is not a folder that can be opened ({exc.strerror})")
            return None
        try:
            info = os.fstat(descriptor)
            if _tightenable(info):  # made by an older version: nobody else could write in it
                os.fchmod(descriptor, PRIVATE_DIRECTORY)
                info = os.fstat(descriptor)
            problem = _untrusted(info)
        except OSError as exc:
            problem = f"it cannot be examined ({exc.strerror})"
        if problem is not None:
            os.close(descriptor)
            self._distrust(problem)
            return None
        return _Folder(self.folder, descriptor)

    def _distrust(self, problem: str) -> None:
        if self._warned:
            return
        self._warned = True
        log.warning(
            "the SQLite doorbell %s is off, so idle workers poll for new messages: %s. "
            "Remove it (it is made anew, mode 0700, by the next worker) or make it a folder "
            "of this user with mode 0700.",
            self.folder,
            problem,
        )


def _tightenable(info: os.stat_result) -> bool:
    """Whether the folder is ours and others may look into it but not write in it (what
    earlier versions made): then closing it to them is safe, since nobody else can have
    put anything there."""
    mode = stat.S_IMODE(info.st_mode)
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not mode & 0o022
        and bool(mode & 0o077)
    )


def _untrusted(info: os.stat_result) -> str | None:
    """Why a folder with this status cannot hold the doorbell, or ``None`` if it can."""
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    if info.st_uid != os.geteuid():
        return f"it belongs to user id {info.st_uid}, not to this process's ({os.geteuid()})"
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return f"its mode is {mode:04o}, which lets other users in (0700 is needed)"
    return None


class _Folder:
    """The doorbell folder, opened and checked: entries are named relative to it."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self._path = path
        self._descriptor = descriptor
        self._by_descriptor = _PROC_FD.is_dir()

    def sockets(self) -> list[str]:
        """The names of listeners' sockets in the folder (nothing else: no links, files
        or folders, whatever their names)."""
        found = []
        for name in os.listdir(self._descriptor):
            if _SOCKET_NAME.fullmatch(name) and self._is_socket(name):
                found.append(name)
        return found

    def address(self, name: str) -> str:
        """The path of entry ``name`` for ``bind`` and ``sendto``."""
        if self._by_descriptor:
            return os.fspath(_PROC_FD / str(self._descriptor) / name)
        return os.fspath(self._path / name)

    def remove(self, name: str) -> None:
        """Delete the socket ``name`` (and nothing that is not a socket)."""
        if self._descriptor >= 0 and self._is_socket(name):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self._descriptor)

    def close(self) -> None:
        """Close the folder (again: nothing; its descriptor's number may be reused)."""
        descriptor, self._descriptor = self._descriptor, -1
        if descriptor >= 0:
            with contextlib.suppress(OSError):
                os.close(descriptor)

    def _is_socket(self, name: str) -> bool:
        try:
            info = os.lstat(name, dir_fd=self._descriptor)
        except OSError:
            return False
        return stat.S_ISSOCK(info.st_mode)


class _Listener:
    """One process's socket; ``wait`` returns when a sender rings."""

    def __init__(
        self,
        receiver: socket.socket,
        folder: _Folder,
        name: str,
        heard: Callable[[bytes], None] | None = None,
    ) -> None:
        self._receiver = receiver
        self._folder = folder
        self._name = name
        self._heard = heard
        self._rung = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Hear rings in the running event loop from now on (``wait`` starts it too)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._receiver.fileno())
            self._loop = loop
            loop.add_reader(self._receiver.fileno(), self._readable)

    async def wait(self) -> None:
        self.start()
        await self._rung.wait()
        self._rung.clear()

    def _readable(self) -> None:
        with contextlib.suppress(OSError):
            while datagram := self._receiver.recv(MAX_PAYLOAD):
                if self._heard is not None:
                    self._heard(datagram)
        self._rung.set()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._receiver.fileno())
        self._receiver.close()
        self._folder.remove(self._name)
        self._folder.close()
