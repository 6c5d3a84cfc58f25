"""Stored files: the inputs and outputs of jobs that work on documents (a zip of invoices,
an export), kept in a blob container on Azure or a directory on the embedded backend.

A :class:`FileStore` is one container. Names are ``/``-separated paths (``reports/q3.csv``);
a *prefix* lists a folder. A download link lets someone without storage access fetch one
file until it expires: a SAS URL on Azure, an HMAC-signed URL on the embedded backend.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Protocol
from urllib.parse import quote

from ..errors import InvalidFileName, InvalidInput

__all__ = [
    "MAX_CHUNK",
    "MAX_LINK_LIFETIME",
    "DownloadLink",
    "FileStore",
    "StoredFile",
    "attachment",
    "validate_container",
    "validate_lifetime",
    "validate_name",
]

#: The most bytes one piece of :meth:`FileStore.read_chunks` holds.
MAX_CHUNK = 4 * 1024 * 1024
#: The longest a download link may stay valid.
MAX_LINK_LIFETIME = timedelta(days=7)
_MAX_NAME = 1024
#: File systems cap one path segment at 255 bytes; names must fit every store.
_MAX_SEGMENT = 255
#: What Azure Blob Storage accepts as a container name (every store keeps to it).
CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One stored file as a listing describes it."""

    name: str
    size: int
    #: As written; on the embedded backend (which keeps none), guessed from the name.
    content_type: str | None
    modified: datetime


@dataclass(frozen=True, slots=True)
class DownloadLink:
    """A URL that fetches one file, valid until ``expires_at``."""

    url: str
    expires_at: datetime


class FileStore(Protocol):
    """One container of files."""

    @property
    def container(self) -> str:
        """The container's name."""
        ...

    async def create(self) -> None:
        """Create the container if it doesn't exist (idempotent)."""
        ...

    async def list(self, prefix: str = "") -> list[StoredFile]:
        """The files whose names start with ``prefix``, by name."""
        ...

    async def read(self, name: str) -> bytes:
        """A file's content; raises ``StoredFileNotFound``."""
        ...

    def read_chunks(self, name: str) -> AsyncGenerator[bytes, None]:
        """A file's content in pieces of at most :data:`MAX_CHUNK` bytes, read as they are
        consumed: a reader that stops early (``contextlib.aclosing`` closes the iterator)
        has read no more than it took. ``StoredFileNotFound`` comes from the first piece;
        a file replaced while it is read raises ``StorageError`` rather than mixing two
        contents."""
        ...

    async def write(
        self,
        name: str,
        data: bytes | IO[bytes],
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = True,
    ) -> StoredFile:
        """Store ``data`` under ``name``, replacing any file of that name whole (readers
        never see half a file). ``data`` is bytes, or a binary file read in pieces from
        where it stands to its end (so a large file is never held in memory whole).
        With ``overwrite=False`` an existing file is kept and ``StoredFileExists`` raised,
        decided by the store itself (no other writer can slip in between)."""
        ...

    async def delete(self, name: str) -> bool:
        """Delete a file; ``False`` if there was none."""
        ...

    async def download_link(self, name: str, *, expires_in: timedelta) -> DownloadLink:
        """A link that downloads the file (as an attachment) until ``expires_in`` from now
        (at most :data:`MAX_LINK_LIFETIME`); raises ``StoredFileNotFound``. The link's
        ``expires_at`` says when it stops working: as asked, except that a link signed
        with a user delegation key (Azure, identity-based) ends with the key, which Azure
        Storage grants for at most seven days (less a few minutes kept for clock skew)."""
        ...

    async def close(self) -> None: ...


def validate_container(container: str) -> str:
    """``container`` if it is a valid container name (as Azure Blob Storage requires:
    3-63 lowercase letters, digits and single hyphens)."""
    if not CONTAINER_NAME.match(container):
        raise InvalidFileName(
            f"invalid container name {container!r}: use 3-63 lowercase letters, digits "
            "and single hyphens, starting and ending with a letter or digit"
        )
    return container


def validate_name(name: str) -> str:
    """``name`` if it can name a file in every store: a relative ``/``-separated path of at
    most 1,024 characters, without empty, ``.`` or ``..`` segments or segments over 255
    bytes, ``\\`` or control characters."""
    problem = None
    if not name or len(name) > _MAX_NAME:
        problem = f"must have 1 to {_MAX_NAME} characters"
    elif "\\" in name or _CONTROL.search(name):
        problem = "must not contain '\\' or control characters"
    elif any(part in ("", ".", "..") for part in name.split("/")):
        problem = "must be a relative path without empty, '.' or '..' segments"
    elif any(len(part.encode()) > _MAX_SEGMENT for part in name.split("/")):
        problem = f"must not have a segment (between '/') over {_MAX_SEGMENT} bytes"
    if problem:
        raise InvalidFileName(f"invalid file name {name[:80]!r}: it {problem}")
    return name


def attachment(name: str) -> str:
    """A Content-Disposition that downloads ``name``'s last segment under its own name
    (RFC 6266: an ASCII fallback, and the exact UTF-8 name for clients that read it)."""
    filename = posixpath.basename(name)
    fallback = filename.encode("ascii", "replace").decode().replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def validate_lifetime(expires_in: timedelta) -> timedelta:
    if not timedelta(0) < expires_in <= MAX_LINK_LIFETIME:
        raise InvalidInput(
            f"a download link must expire within {MAX_LINK_LIFETIME.days} days, not {expires_in}"
        )
    return expires_in
