"""Files in a local directory: the embedded backend's blob container.

Every path inside the container is opened one segment at a time, relative to its folder
and without following symbolic links (``O_NOFOLLOW``, ``*at`` calls): a link placed in
the container, to a file or to a folder, is never read, listed, written or deleted
through, so nothing outside the container (the signing key, ``/etc``) can be served.
Only regular files are stored files; a link, a folder, a pipe or a socket at a name is
no file. Folders are created owner-only and files owner-read/write unless told otherwise.
"""

from __future__ import annotations

import asyncio
import errno
import mimetypes
import os
import secrets
import stat
import tempfile
from collections.abc import AsyncGenerator, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from .._private import PRIVATE_DIRECTORY, PRIVATE_FILE, make_directories
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import (
    ConfigurationError,
    InvalidDownloadLink,
    InvalidFileName,
    StoredFileExists,
    StoredFileNotFound,
)
from ._signing import LinkSigner
from .base import (
    MAX_CHUNK,
    DownloadLink,
    StoredFile,
    validate_container,
    validate_lifetime,
    validate_name,
)

__all__ = ["DEFAULT_FILES_URL", "LocalFileStore"]

#: Where download links point unless told otherwise: the web server serving ``/files``.
DEFAULT_FILES_URL = "http://127.0.0.1:8000/files"
_KEY_FILE = ".signing-key"
_TEMP = ".partial-"
#: Longer names are no stored file's: a listing never goes deeper than this.
_MAX_NAME = 1024
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: A folder inside the container: never through a link.
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
#: A file inside the container: never through a link, and without waiting on a pipe.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
#: What opening a path that is not there, not a folder, or a link, fails with.
_NOT_THERE = {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.ENXIO}


def _signing_key(root: Path, directory_mode: int) -> bytes:
    """The root's link-signing key, made on first use (readable by its owner only), so
    links stay valid across processes and restarts.

    A new key is written whole to a temporary file, then published by a hard link that
    fails if another thread or process published one first: nobody reads half a key, and
    everybody ends up with the same one.
    """
    path = root / _KEY_FILE
    with suppress(FileNotFoundError):
        return path.read_bytes()
    make_directories(root, directory_mode)
    fd, temporary = tempfile.mkstemp(prefix=_TEMP, dir=root)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        with suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


def _check_mode(what: str, mode: int, owner: int) -> int:
    if not 0 <= mode <= 0o777 or mode & owner != owner:
        raise ConfigurationError(
            f"{what} {mode:#o} cannot work: give permission bits (at most 0o777) that "
            f"keep {owner:#o} for the owner, who reads and writes the files"
        )
    return mode


def _is_stored_name(name: str) -> bool:
    """Whether a name found on disk can name a stored file (others are not listed)."""
    try:
        validate_name(name)
    except (InvalidFileName, UnicodeEncodeError):  # not UTF-8 on disk
        return False
    return not name.rpartition("/")[2].startswith(_TEMP)


def _not_there(exc: OSError) -> bool:
    return exc.errno in _NOT_THERE


def _copy(data: bytes | IO[bytes], out: IO[bytes]) -> None:
    if isinstance(data, bytes | bytearray | memoryview):
        out.write(data)
        return
    while chunk := data.read(MAX_CHUNK):
        out.write(chunk)


class LocalFileStore:
    """The container ``container`` as the directory ``root/container``.

    Writes go to a temporary file renamed into place, so a reader never sees half a file.
    Download links are signed with a key kept in ``root`` (or ``secret``) and point at
    ``base_url``; :meth:`resolve` checks one and gives the file's path.

    ``file_mode`` and ``directory_mode`` are what stored files and the folders the store
    creates get (less the umask): the owner's alone by default. A file server running as
    another user needs, say, ``file_mode=0o640, directory_mode=0o750`` and a shared group.
    """

    def __init__(
        self,
        root: str | Path,
        container: str,
        *,
        base_url: str = DEFAULT_FILES_URL,
        secret: bytes | None = None,
        clock: Clock = SYSTEM_CLOCK,
        file_mode: int = PRIVATE_FILE,
        directory_mode: int = PRIVATE_DIRECTORY,
    ) -> None:
        self._root = Path(root)
        self._container = validate_container(container)
        self._directory = self._root / container
        self._base_url = base_url
        self._secret = secret
        self._signer: LinkSigner | None = None
        self._clock = clock
        self._file_mode = _check_mode("file_mode", file_mode, 0o600)
        self._directory_mode = _check_mode("directory_mode", directory_mode, 0o700)

    @property
    def container(self) -> str:
        return self._container

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def base_url(self) -> str:
        """Where the store's download links point: ``<base_url>/<container>/<name>?...``
        (what a server answering them rebuilds a link from)."""
        return self._base_url.rstrip("/")

    # --- paths, opened without following links -------------------------------------------

    def _parts(self, name: str) -> list[str]:
        parts = validate_name(name).split("/")
        if parts[-1].startswith(_TEMP):
            raise InvalidFileName(f"file names starting {_TEMP!r} are kept for partial writes")
        return parts

    def _folder(self, parts: Sequence[str], *, create: bool = False) -> int:
        """A descriptor of the container's folder ``parts``, entered one folder at a time
        without following links (creating missing ones if ``create``); ``OSError`` with an
        errno of :data:`_NOT_THERE` where a segment is missing, a file or a link."""
        if create:
            make_directories(self._directory, self._directory_mode)
        fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        try:
            for part in parts:
                try:
                    child = os.open(part, _OPEN_FOLDER, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with suppress(FileExistsError):
                        os.mkdir(part, self._directory_mode, dir_fd=fd)
                    child = os.open(part, _OPEN_FOLDER, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_file(self, name: str) -> int:
        """A read descriptor of the stored file ``name``; ``StoredFileNotFound`` if it is
        missing or is no regular file of the container (a link, a folder, a pipe)."""
        parts = self._parts(name)
        try:
            folder = self._folder(parts[:-1])
            try:
                fd = os.open(parts[-1], _OPEN_FILE, dir_fd=folder)
            finally:
                os.close(folder)
        except OSError as exc:
            if _not_there(exc):
                raise StoredFileNotFound(name) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoredFileNotFound(name)
        return fd

    def _signer_for_file(self, name: str) -> LinkSigner:
        """The signer, once ``name`` is known to be a stored file (one trip to a thread)."""
        os.close(self._open_file(name))
        return self._signing()

    def _signing(self) -> LinkSigner:
        if self._signer is None:
            secret = self._secret or _signing_key(self._root, self._directory_mode)
            self._signer = LinkSigner(secret, self._base_url)
        return self._signer

    async def create(self) -> None:
        await asyncio.to_thread(make_directories, self._directory, self._directory_mode)

    # --- list ----------------------------------------------------------------------------

    def _list(self, prefix: str) -> list[StoredFile]:
        """Only the folder the prefix names is walked: ``reports/2024/q`` lists the entries
        of ``reports/2024`` that start with ``q`` (and what is under those)."""
        folder, _, start = prefix.rpartition("/")
        parts = folder.split("/") if folder else []
        if prefix.startswith("/") or not all(_is_stored_name(part) for part in parts):
            return []  # no stored name starts so
        try:
            fd = self._folder(parts)
        except OSError as exc:
            if _not_there(exc):
                return []
            raise
        found: list[StoredFile] = []
        self._walk(fd, "".join(f"{part}/" for part in parts), start, found)
        return sorted(found, key=lambda f: f.name)

    def _walk(self, fd: int, base: str, start: str, found: list[StoredFile]) -> None:
        """Add the regular files under the folder ``fd`` (named ``base``) whose entry names
        start with ``start``, descending into folders but never into links; closes ``fd``."""
        folders: list[str] = []
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    name = base + entry.name
                    if not entry.name.startswith(start) or len(name) > _MAX_NAME:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.name)
                    elif entry.is_file(follow_symlinks=False) and _is_stored_name(name):
                        found.append(self._described(name, entry.stat(follow_symlinks=False)))
            for folder in folders:
                try:
                    child = os.open(folder, _OPEN_FOLDER, dir_fd=fd)
                except OSError as exc:
                    if _not_there(exc):  # gone, or replaced by a link, since it was seen
                        continue
                    raise
                self._walk(child, f"{base}{folder}/", "", found)
        finally:
            os.close(fd)

    @staticmethod
    def _described(name: str, status: os.stat_result) -> StoredFile:
        return StoredFile(
            name=name,
            size=status.st_size,
            content_type=mimetypes.guess_type(name)[0],
            modified=datetime.fromtimestamp(status.st_mtime, UTC),
        )

    async def list(self, prefix: str = "") -> list[StoredFile]:
        return await asyncio.to_thread(self._list, prefix)

    # --- read ----------------------------------------------------------------------------

    def _read(self, name: str) -> bytes:
        with os.fdopen(self._open_file(name), "rb") as file:
            return file.read()

    async def read(self, name: str) -> bytes:
        return await asyncio.to_thread(self._read, name)

    async def read_chunks(self, name: str) -> AsyncGenerator[bytes, None]:
        fd = await asyncio.to_thread(self._open_file, name)
        try:
            while chunk := await asyncio.to_thread(os.read, fd, MAX_CHUNK):
                yield chunk
        finally:
            os.close(fd)

    # --- write and delete ----------------------------------------------------------------

    def _write(self, name: str, data: bytes | IO[bytes], overwrite: bool) -> StoredFile:
        parts = self._parts(name)
        try:
            folder = self._folder(parts[:-1], create=True)
        except OSError as exc:
            if _not_there(exc) or exc.errno == errno.EEXIST:
                raise InvalidFileName(
                    f"cannot store {name!r}: on the embedded backend a name cannot be both a "
                    "file and a folder, and a folder that is a link is never written through"
                ) from None
            raise
        try:
            return self._write_in(folder, name, parts[-1], data, overwrite)
        finally:
            os.close(folder)

    def _write_in(
        self, folder: int, name: str, leaf: str, data: bytes | IO[bytes], overwrite: bool
    ) -> StoredFile:
        temporary = f"{_TEMP}{secrets.token_hex(8)}"
        fd = os.open(temporary, _CREATE_FILE, self._file_mode, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                _copy(data, out)
                out.flush()
                os.fsync(out.fileno())
                status = os.fstat(out.fileno())
            if overwrite:
                os.replace(temporary, leaf, src_dir_fd=folder, dst_dir_fd=folder)
            else:  # a hard link fails if the name is taken: decided by the file system
                os.link(temporary, leaf, src_dir_fd=folder, dst_dir_fd=folder)
                os.unlink(temporary, dir_fd=folder)
        except FileExistsError:
            os.unlink(temporary, dir_fd=folder)
            raise StoredFileExists(name) from None
        except IsADirectoryError:
            os.unlink(temporary, dir_fd=folder)
            raise InvalidFileName(
                f"cannot store {name!r}: on the embedded backend a name cannot be both a "
                "file and a folder"
            ) from None
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=folder)
            raise
        return self._described(name, status)

    async def write(
        self,
        name: str,
        data: bytes | IO[bytes],
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = True,
    ) -> StoredFile:
        return await asyncio.to_thread(self._write, name, data, overwrite)

    def _delete(self, name: str) -> bool:
        parts = self._parts(name)
        try:
            folder = self._folder(parts[:-1])
        except OSError as exc:
            if _not_there(exc):
                return False
            raise
        try:
            if not stat.S_ISREG(os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode):
                return False  # a folder or a link: no stored file
            os.unlink(parts[-1], dir_fd=folder)
        except FileNotFoundError:
            return False
        finally:
            os.close(folder)
        return True

    async def delete(self, name: str) -> bool:
        return await asyncio.to_thread(self._delete, name)

    # --- links ---------------------------------------------------------------------------

    async def download_link(self, name: str, *, expires_in: timedelta) -> DownloadLink:
        validate_lifetime(expires_in)
        signer = await asyncio.to_thread(self._signer_for_file, name)
        return signer.sign(self._container, name, self._clock.now() + expires_in)

    def _granted(self, url: str) -> str:
        container, name = self._signing().verify(url, now=self._clock.now())
        if container != self._container:
            raise InvalidDownloadLink(f"the link is for the container {container!r}")
        return name

    def resolve(self, url: str) -> Path:
        """The file a download link of this container grants; raises
        ``InvalidDownloadLink`` or ``StoredFileNotFound``, also where the name is a link or
        passes through one. A server answering links should prefer :meth:`open_link`: a
        path opened later could have been swapped for a link in between."""
        name = self._granted(url)
        os.close(self._open_file(name))
        return self._directory.joinpath(*name.split("/"))

    def open_link(self, url: str) -> IO[bytes]:
        """The file a download link of this container grants, opened for reading (what a
        server answering the link sends, with no moment for the file to be swapped);
        raises ``InvalidDownloadLink`` or ``StoredFileNotFound``."""
        return os.fdopen(self._open_file(self._granted(url)), "rb")

    async def close(self) -> None:
        return None
