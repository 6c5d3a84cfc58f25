"""Files in a dict: for tests of jobs that read and write files."""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import IO

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import InvalidDownloadLink, StoredFileExists, StoredFileNotFound
from ._signing import LinkSigner
from .base import (
    MAX_CHUNK,
    DownloadLink,
    StoredFile,
    validate_container,
    validate_lifetime,
    validate_name,
)

__all__ = ["MemoryFileStore"]


class MemoryFileStore:
    """One container held in memory; links are ``memory://`` URLs that :meth:`resolve`
    checks like a server would."""

    def __init__(self, container: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._container = validate_container(container)
        self._files: dict[str, tuple[bytes, StoredFile]] = {}
        self._signer = LinkSigner(secrets.token_bytes(32), "memory://files")
        self._clock = clock

    @property
    def container(self) -> str:
        return self._container

    async def create(self) -> None:
        return None

    async def list(self, prefix: str = "") -> list[StoredFile]:
        return [
            stored for name, (_, stored) in sorted(self._files.items()) if name.startswith(prefix)
        ]

    async def read(self, name: str) -> bytes:
        try:
            return self._files[validate_name(name)][0]
        except KeyError:
            raise StoredFileNotFound(name) from None

    async def read_chunks(self, name: str) -> AsyncGenerator[bytes, None]:
        data = await self.read(name)
        for start in range(0, len(data), MAX_CHUNK):
            yield data[start : start + MAX_CHUNK]

    async def write(
        self,
        name: str,
        data: bytes | IO[bytes],
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = True,
    ) -> StoredFile:
        validate_name(name)
        content = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else data.read()
        if not overwrite and name in self._files:
            raise StoredFileExists(name)
        stored = StoredFile(name, len(content), content_type, self._clock.now())
        self._files[name] = (content, stored)
        return stored

    async def delete(self, name: str) -> bool:
        return self._files.pop(validate_name(name), None) is not None

    async def download_link(self, name: str, *, expires_in: timedelta) -> DownloadLink:
        validate_lifetime(expires_in)
        if validate_name(name) not in self._files:
            raise StoredFileNotFound(name)
        return self._signer.sign(self._container, name, self._clock.now() + expires_in)

    def resolve(self, url: str) -> bytes:
        """The content a download link of this container grants; raises
        ``InvalidDownloadLink`` or ``StoredFileNotFound``."""
        container, name = self._signer.verify(url, now=self._clock.now())
        if container != self._container:
            raise InvalidDownloadLink(f"the link is for the container {container!r}")
        if name not in self._files:
            raise StoredFileNotFound(name)
        return self._files[name][0]

    async def close(self) -> None:
        return None
