"""``GET /files/{container}/{name}``: the embedded store's files, through their signed
download links (``SqliteStorage.files_url`` points here).

The one route that takes no principal: the link is the credential, as an Azure SAS URL
is, so that whoever a job's result was handed to (a browser, a mail's reader) can fetch
the file without an account. The link is checked by the store itself: rebuilt from the
store's own base URL, the path and the query (never from the ``Host`` header), its HMAC
and expiry verified, then the file opened without following links. On Azure, links are
SAS URLs served by Blob Storage, and this route answers ``404``.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterator
from typing import IO, Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ...app import SqliteStorage
from ...errors import (
    InvalidDownloadLink,
    InvalidFileName,
    StorageUnavailable,
    StoredFileNotFound,
)
from ...files.base import attachment
from ...files.local import LocalFileStore
from .._errors import NotConfigured
from .._runtime import runtime_of
from ._common import errors

__all__ = ["router"]

router = APIRouter(tags=["files"])
#: What a file is sent in: pieces of this size, each read off the event loop.
_PIECE: Final = 256 * 1024
_NOT_HERE: Final = "files are served by the storage itself (Azure Blob SAS links)"
_DOWNLOAD: Final = {
    "description": "The file, as an attachment (its type guessed from its name).",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


class _FileStream(StreamingResponse):
    """An open file sent in pieces, closed once the answer is sent or abandoned."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        self._file = file
        self._size = os.fstat(file.fileno()).st_size
        headers = {
            "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "Content-Length": str(self._size),
            "Content-Disposition": attachment(name),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            # A file someone opens in the browser anyway runs nothing under the API's origin.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Referrer-Policy": "no-referrer",
        }
        super().__init__(self._pieces(), headers=headers)

    async def _pieces(self) -> AsyncIterator[bytes]:
        left = self._size  # what Content-Length promised, should the file grow meanwhile
        while left > 0 and (piece := await asyncio.to_thread(self._file.read, min(_PIECE, left))):
            left -= len(piece)
            yield piece

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._file.close()


def _link(store: LocalFileStore, container: str, name: str, request: Request) -> str:
    """The link as the store signed it: its base URL, the path's container and name
    escaped as the signer escapes them, and the query exactly as it came."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        return f"{store.base_url}/{quote(container)}/{quote(name)}?{query}"
    except UnicodeEncodeError:  # a name no link of ours holds
        raise InvalidDownloadLink("the download link's path is not one this store signs") from None


def _opened(store: LocalFileStore, link: str, name: str) -> IO[bytes]:
    try:
        return store.open_link(link)
    except InvalidFileName:  # signed, but no name a stored file can have
        raise StoredFileNotFound(name) from None
    except OSError as exc:
        raise StorageUnavailable(f"the file could not be read ({exc.strerror})") from None


@router.get(
    "/files/{container}/{name:path}",
    name="download_file",
    operation_id="download_file",
    response_class=Response,
    responses={
        200: _DOWNLOAD,
        **errors(
            403,
            404,
            open_route=True,
            described={
                403: "The link was altered, has expired, or is not one of this store's.",
                404: "The file is gone, or files are not served here (Azure: SAS links).",
                422: "The link lacks `expires` or `signature`, or its parts are too long.",
                503: "The file could not be read; try again later.",
            },
        ),
    },
)
async def download_file(
    request: Request,
    container: Annotated[str, Path(min_length=1, max_length=63)],
    name: Annotated[str, Path(min_length=1, max_length=1024)],
    expires: Annotated[str, Query(max_length=32)],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    """A file of the embedded store (``SqliteStorage``), through the download link a job
    made for it (``FileStore.download_link``). **No principal**: the signed link is the
    credential, as an Azure SAS URL is; it is checked against the store's own base URL
    (``SqliteStorage.files_url``), never the request's host. ``403``
    (``invalid_download_link``) for a link that was altered, has expired or is not this
    store's; ``404`` (``file_not_found``) once the file is gone; ``404``
    (``not_configured``) on other storage, whose links Blob Storage serves. The file comes
    as an attachment under its own name, not cached."""
    app = runtime_of(request).app
    if not isinstance(app.storage, SqliteStorage):
        raise NotConfigured(_NOT_HERE)
    try:
        store = app.files(container)
    except InvalidFileName:
        raise InvalidDownloadLink("not a download link of this store: no such container") from None
    try:
        if not isinstance(store, LocalFileStore):
            raise NotConfigured(_NOT_HERE)
        link = _link(store, container, name, request)
        file = await asyncio.to_thread(_opened, store, link, name)
    finally:
        await store.close()
    try:
        return _FileStream(file, name)
    except BaseException:
        file.close()
        raise
