"""Identity-based connections to the HTTPS Azurite: service URIs and a token credential, and
download links re-signed in the format that Azurite 3.35 checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from azure.storage.blob import UserDelegationKey, generate_blob_sas

from queued_jobs import StorageConnection
from tests.support.azurite import ACCOUNT, Azurite
from tests.support.tokens import AzuriteTokenCredential

#: In the string that a user delegation SAS signs, the lines of the signed request headers
#: and query parameters, which azure-storage-blob adds for service version 2026-10-06 and
#: Azurite 3.35 (API 2025-11-05) does not know. Everything else is signed as Azure does.
_NEWER_THAN_AZURITE = (21, 22)


def identity_connection(azurite: Azurite) -> tuple[StorageConnection, dict[str, Any]]:
    """A connection to ``azurite`` (started with ``oauth=True``) that authenticates with
    bearer tokens only, and the client options that make its certificate trusted."""
    connection = StorageConnection(
        blob_service_uri=azurite.service_uri("blob"),
        queue_service_uri=azurite.service_uri("queue"),
        table_service_uri=azurite.service_uri("table"),
        credential=AzuriteTokenCredential(),
    )
    return connection, {"connection_verify": str(azurite.ca_file)}


def signed_for_azurite(url: str, key: UserDelegationKey) -> str:
    """``url``, a user delegation SAS link, signed again in the string-to-sign layout that
    Azurite 3.35 checks, if its signature is the one Azure Storage expects of its fields
    with ``key``; otherwise unchanged (a forged or altered link stays refused)."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    container, _, blob = unquote(parts.path).removeprefix(f"/{ACCOUNT}/").partition("/")
    signed: list[str] = []
    generate_blob_sas(
        ACCOUNT,
        container,
        blob,
        user_delegation_key=key,
        permission=query.get("sp"),
        start=query.get("st"),
        expiry=query.get("se"),
        content_disposition=query.get("rscd"),
        sts_hook=signed.append,
    )
    lines = signed[0].split("\n")
    if query.get("sig") != _signature(key, lines):
        return url
    older = [line for i, line in enumerate(lines) if i not in _NEWER_THAN_AZURITE]
    query["sig"] = _signature(key, older)
    return parts._replace(query=urlencode(query)).geturl()


def _signature(key: UserDelegationKey, lines: list[str]) -> str:
    secret = base64.b64decode(key.value or "")
    digest = hmac.new(secret, "\n".join(lines).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
