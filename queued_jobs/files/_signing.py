"""Signed download links for the stores that have no SAS of their own (embedded, memory)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote

from ..errors import InvalidDownloadLink
from .base import DownloadLink

__all__ = ["LinkSigner"]

#: Longer text is no link of ours: a name (1,024 characters) escaped, and room to spare.
_MAX_LINK = 16 * 1024
#: A link has two query parameters; more is not a link of ours (and costs no parsing).
_MAX_FIELDS = 8


class LinkSigner:
    """Builds and checks ``<base>/<container>/<name>?expires=<unix>&signature=<hmac>`` links.

    The signature is an HMAC-SHA256, keyed by ``secret``, of the container, the name and
    the expiry: whoever holds the secret (the process serving the files) can check a link
    without any stored state; nobody without it can make or stretch one.
    """

    def __init__(self, secret: bytes, base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("a link-signing secret needs at least 16 bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")

    def _signature(self, container: str, name: str, expires: int) -> str:
        message = f"{container}\n{name}\n{expires}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, container: str, name: str, expires_at: datetime) -> DownloadLink:
        expires = int(expires_at.timestamp())
        signature = self._signature(container, name, expires)
        path = f"{quote(container)}/{quote(name)}"
        return DownloadLink(
            f"{self.base_url}/{path}?expires={expires}&signature={signature}",
            datetime.fromtimestamp(expires, UTC),
        )

    def verify(self, url: str, *, now: datetime) -> tuple[str, str]:
        """The ``(container, name)`` a link grants; raises :class:`InvalidDownloadLink` if
        it is not one of ours, was altered, or has expired. Any text is checked the same
        way, however long or strange: nothing but :class:`InvalidDownloadLink` comes out."""
        if len(url) > _MAX_LINK:
            raise InvalidDownloadLink(f"a download link has at most {_MAX_LINK:,} characters")
        if not url.startswith(self.base_url + "/"):
            raise InvalidDownloadLink(f"not a download link of this store: {url[:200]!r}")
        rest = url[len(self.base_url) + 1 :].partition("#")[0]
        path, _, query_text = rest.partition("?")
        container, _, name = path.partition("/")
        try:
            query = parse_qs(query_text, max_num_fields=_MAX_FIELDS)
            (expires_text,) = query["expires"]
            (signature,) = query["signature"]
            expires = int(expires_text)
        except (KeyError, ValueError):
            problem = "a download link needs one expires and one signature"
            raise InvalidDownloadLink(problem) from None
        container, name = unquote(container), unquote(name)
        expected = self._signature(container, name, expires)
        # compare_digest takes ASCII text only: a signature that is not ASCII cannot match.
        if not signature.isascii() or not hmac.compare_digest(expected, signature):
            raise InvalidDownloadLink("the download link's signature does not match")
        if now.timestamp() >= expires:
            raise InvalidDownloadLink("the download link has expired")
        return container, name
