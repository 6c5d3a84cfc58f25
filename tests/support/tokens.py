"""Microsoft Entra access tokens that Azurite's ``--oauth basic`` mode accepts.

Azurite checks a bearer token's issuer, audience and lifetime, not its signature; so a
token made here goes through the same SDK code (the bearer-token policy, HTTPS only) as a
real one from a managed identity, and Azurite still refuses a wrong audience or an expired
token.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from azure.core.credentials import AccessToken

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
STORAGE_AUDIENCE = "https://storage.azure.com"


def _segment(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def access_token(*, audience: str = STORAGE_AUDIENCE, lifetime: float = 3600) -> AccessToken:
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + int(lifetime),
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "queued-jobs-tests")),
        "tid": TENANT,
        "appid": str(uuid.uuid4()),
    }
    token = f"{_segment({'alg': 'RS256', 'typ': 'JWT'})}.{_segment(claims)}.c2lnbmF0dXJl"
    return AccessToken(token, claims["exp"])


class AzuriteTokenCredential:
    """An async token credential (the protocol the SDK clients take) that counts its tokens
    and its ``close`` calls."""

    def __init__(self, *, audience: str = STORAGE_AUDIENCE) -> None:
        self.audience = audience
        self.scopes: list[str] = []
        self.closed = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return access_token(audience=self.audience)

    async def close(self) -> None:
        self.closed += 1

    async def __aenter__(self) -> AzuriteTokenCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
