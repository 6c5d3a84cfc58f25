"""The browser side of the web API: the bell's script, the dashboard's modules and styles,
read once from the package (``queued_jobs/web/static``) and served from memory.

Assets are code, the same for every caller and holding no data, so ``/assets/...`` is the
one route family served without a principal: a ``<script>`` tag in another site's page
cannot send credentials, and nothing an asset says depends on who asks. Each file has two
addresses:

- ``/assets/<digest>/<path>``: ``immutable``, cached for a year; ``<digest>`` names this
  set of assets (a hash of all of them), so a new release gets new addresses. The app's own
  pages use these.
- ``/assets/<path>``: cached for five minutes, then revalidated by ``ETag``: for pages of
  other sites that embed the bell (``<script type="module" src=".../assets/bell.js">``).

A client that accepts ``gzip`` gets the file compressed (done once, at start).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from fastapi import APIRouter, HTTPException, Request, Response

__all__ = ["Asset", "Assets", "package_assets", "router"]

router = APIRouter(include_in_schema=False)

_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_REVALIDATED: Final = "public, max-age=300, must-revalidate"
#: Smaller files are not worth compressing.
_COMPRESS_FROM: Final = 1024


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    compressed: bytes | None
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class Assets:
    """Every asset by path (``bell.js``, ``dashboard/main.js``), and the digest of them all."""

    files: dict[str, Asset]
    digest: str

    def find(self, path: str) -> tuple[Asset, bool] | None:
        """The asset at ``path`` and whether the path named this digest (immutable)."""
        head, _, rest = path.partition("/")
        immutable = head == self.digest
        asset = self.files.get(rest if immutable else path)
        return None if asset is None else (asset, immutable)

    def url(self, root: str, path: str) -> str:
        """The immutable address of ``path`` under an app mounted at ``root``."""
        if path not in self.files:
            raise KeyError(f"no asset {path!r}")
        return f"{root}/assets/{self.digest}/{path}"


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found |= _walk(entry, f"{name}/")
        elif not entry.name.startswith(".") and entry.name.endswith(tuple(_TYPES)):
            found[name] = entry.read_bytes()
    return found


def _asset(path: str, body: bytes) -> Asset:
    suffix = path[path.rfind(".") :]
    kind = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    packed = gzip.compress(body, mtime=0) if len(body) >= _COMPRESS_FROM else None
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, packed if packed and len(packed) < len(body) else None, kind, etag)


@cache
def package_assets() -> Assets:
    """The assets shipped in the package (read once per process)."""
    files = _walk(resources.files("queued_jobs.web") / "static")
    whole = hashlib.sha256()
    for path in sorted(files):
        whole.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return Assets({p: _asset(p, b) for p, b in files.items()}, whole.hexdigest()[:12])


@router.get("/assets/{path:path}", name="asset")
async def asset(path: str, request: Request) -> Response:
    hit = package_assets().find(path)
    if hit is None:
        raise HTTPException(404, f"no asset {path[:200]!r}")
    found, immutable = hit
    headers = {
        "Cache-Control": _IMMUTABLE if immutable else _REVALIDATED,
        "ETag": found.etag,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
        # Any site may embed the bell: its script holds no data and is the same for all
        # (a module script of another origin is fetched with CORS).
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = found.body
    if found.compressed is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = found.compressed
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=found.content_type, headers=headers)
