"""Arrival hints across processes for one SQLite file, so idle workers need not poll fast.

Every listening process binds a Unix datagram socket in ``<file>.bell/``; a sender writes
one byte to each socket there after its message is committed. A socket whose process died
refuses the byte and is removed by the next sender. Where Unix sockets are missing (or the
path is too long for one), there is no doorbell and workers simply poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Final

__all__ = ["Doorbell"]

log = logging.getLogger("queued_jobs.sqlite")

#: Shortest limit among platforms for a Unix socket path (macOS: 104 bytes with the NUL).
_MAX_SOCKET_PATH: Final = 103


class Doorbell:
    """Rings every process listening on one database file."""

    def __init__(self, database: Path) -> None:
        self.folder = database.with_name(database.name + ".bell")
        self._sender: socket.socket | None = None
        #: The event loop a ring is scheduled on: the sends of a batch ring once.
        self._ringing: asyncio.AbstractEventLoop | None = None

    def ring(self) -> None:
        """Tell listeners a message may be waiting (never blocks, never raises). In an
        event loop, rings made in one turn of the loop ring once, at the end of the turn."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._ring_now()
            return
        if self._ringing is not loop:
            self._ringing = loop
            loop.call_soon(self._ring_now)

    def _ring_now(self) -> None:
        self._ringing = None
        if not hasattr(socket, "AF_UNIX"):
            return
        try:
            names = os.listdir(self.folder)
        except OSError:
            return  # nobody has listened yet
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for name in names:
            path = self.folder / name
            try:
                self._sender.sendto(b"!", os.fspath(path))
            except ConnectionRefusedError:  # its process is gone
                with contextlib.suppress(OSError):
                    path.unlink()
            except OSError:  # a full buffer means it has been rung already
                pass

    def listen(self) -> _Listener | None:
        """A listener for this process, or ``None`` where the platform has no doorbell."""
        if not hasattr(socket, "AF_UNIX"):
            return None
        path = self.folder / f"{os.getpid()}-{secrets.token_hex(4)}"
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            log.debug("no doorbell for %s: the path is too long for a Unix socket", self.folder)
            return None
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            receiver.bind(os.fspath(path))
        except OSError as exc:
            receiver.close()
            log.debug("no doorbell for %s: %s", self.folder, exc)
            return None
        receiver.setblocking(False)
        return _Listener(receiver, path)

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None


class _Listener:
    """One process's socket; ``wait`` returns when a sender rings."""

    def __init__(self, receiver: socket.socket, path: Path) -> None:
        self._receiver = receiver
        self._path = path
        self._rung = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def wait(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._receiver.fileno(), self._readable)
        await self._rung.wait()
        self._rung.clear()

    def _readable(self) -> None:
        with contextlib.suppress(OSError):
            while self._receiver.recv(64):
                pass
        self._rung.set()

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._receiver.fileno())
        self._receiver.close()
        with contextlib.suppress(OSError):
            self._path.unlink()
