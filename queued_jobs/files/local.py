"""Files in a local directory: the embedded backend's blob container."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import secrets
import tempfile
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import InvalidDownloadLink, InvalidFileName, StoredFileNotFound
from ._signing import LinkSigner
from .base import (
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
#: Stored files are readable by a file server running as another user.
_FILE_MODE = 0o644


def _signing_key(root: Path) -> bytes:
    """The root's link-signing key, made on first use (readable by its owner only), so
    links stay valid across processes and restarts.

    A new key is written whole to a temporary file, then published by a hard link that
    fails if another thread or process published one first: nobody reads half a key, and
    everybody ends up with the same one.
    """
    path = root / _KEY_FILE
    with suppress(FileNotFoundError):
        return path.read_bytes()
    root.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=_TEMP, dir=root)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        with suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes()


class LocalFileStore:
    """The container ``container`` as the directory ``root/container``.

    Writes go to a temporary file renamed into place, so a reader never sees half a file.
    Download links are signed with a key kept in ``root`` (or ``secret``) and point at
    ``base_url``; :meth:`resolve` checks one and gives the file's path.
    """

    def __init__(
        self,
        root: str | Path,
        container: str,
        *,
        base_url: str = DEFAULT_FILES_URL,
        secret: bytes | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._root = Path(root)
        self._container = validate_container(container)
        self._directory = self._root / container
        self._base_url = base_url
        self._secret = secret
        self._signer: LinkSigner | None = None
        self._clock = clock

    @property
    def container(self) -> str:
        return self._container

    @property
    def directory(self) -> Path:
        return self._directory

    def _path(self, name: str) -> Path:
        parts = validate_name(name).split("/")
        if parts[-1].startswith(_TEMP):
            raise InvalidFileName(f"file names starting {_TEMP!r} are kept for partial writes")
        return self._directory.joinpath(*parts)

    def _signer_for_file(self, name: str) -> LinkSigner:
        """The signer, once ``name`` is known to be a stored file (one trip to a thread)."""
        if not self._path(name).is_file():
            raise StoredFileNotFound(name)
        return self._signing()

    def _signing(self) -> LinkSigner:
        if self._signer is None:
            secret = self._secret or _signing_key(self._root)
            self._signer = LinkSigner(secret, self._base_url)
        return self._signer

    async def create(self) -> None:
        await asyncio.to_thread(self._directory.mkdir, parents=True, exist_ok=True)

    def _describe(self, path: Path) -> StoredFile:
        stat = path.stat()
        name = path.relative_to(self._directory).as_posix()
        return StoredFile(
            name=name,
            size=stat.st_size,
            content_type=mimetypes.guess_type(name)[0],
            modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    def _list(self, prefix: str) -> list[StoredFile]:
        if not self._directory.is_dir():
            return []
        found = []
        for path in self._directory.rglob("*"):
            if path.name.startswith(_TEMP) or not path.is_file():
                continue
            stored = self._describe(path)
            if stored.name.startswith(prefix):
                found.append(stored)
        return sorted(found, key=lambda f: f.name)

    async def list(self, prefix: str = "") -> list[StoredFile]:
        return await asyncio.to_thread(self._list, prefix)

    def _read(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StoredFileNotFound(name) from None

    async def read(self, name: str) -> bytes:
        return await asyncio.to_thread(self._read, name)

    def _write(self, name: str, data: bytes) -> StoredFile:
        path = self._path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                raise IsADirectoryError(path)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise InvalidFileName(
                f"cannot store {name!r}: on the embedded backend a name cannot be both a "
                "file and a folder"
            ) from None
        fd, temporary = tempfile.mkstemp(prefix=_TEMP, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, _FILE_MODE)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return self._describe(path)

    async def write(
        self, name: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> StoredFile:
        return await asyncio.to_thread(self._write, name, data)

    def _delete(self, name: str) -> bool:
        try:
            self._path(name).unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            if self._path(name).is_file():  # refused for another reason: say so
                raise
            return False
        return True

    async def delete(self, name: str) -> bool:
        return await asyncio.to_thread(self._delete, name)

    async def download_link(self, name: str, *, expires_in: timedelta) -> DownloadLink:
        validate_lifetime(expires_in)
        signer = await asyncio.to_thread(self._signer_for_file, name)
        return signer.sign(self._container, name, self._clock.now() + expires_in)

    def resolve(self, url: str) -> Path:
        """The file a download link of this container grants (what a server answering the
        link sends); raises ``InvalidDownloadLink`` or ``StoredFileNotFound``."""
        container, name = self._signing().verify(url, now=self._clock.now())
        if container != self._container:
            raise InvalidDownloadLink(f"the link is for the container {container!r}")
        path = self._path(name)
        if not path.is_file():
            raise StoredFileNotFound(name)
        return path

    async def close(self) -> None:
        return None
