"""Connection strings, as the Azure Functions host and the storage SDKs read them."""

from __future__ import annotations

from typing import Final

from ..errors import ConfigurationError

__all__ = ["DEVELOPMENT_STORAGE", "expand_connection_string"]

_ACCOUNT = "devstoreaccount1"
# Azurite's published, well-known development key: not a secret.
_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#: What ``UseDevelopmentStorage=true`` means: Azurite on its default local ports.
DEVELOPMENT_STORAGE: Final = (
    f"DefaultEndpointsProtocol=http;AccountName={_ACCOUNT};AccountKey={_KEY};"
    f"BlobEndpoint=http://127.0.0.1:10000/{_ACCOUNT};"
    f"QueueEndpoint=http://127.0.0.1:10001/{_ACCOUNT};"
    f"TableEndpoint=http://127.0.0.1:10002/{_ACCOUNT};"
)


def expand_connection_string(connection_string: str) -> str:
    """The connection string with ``UseDevelopmentStorage=true`` spelled out for every SDK."""
    text = connection_string.strip()
    if not text:
        raise ConfigurationError("the Azure Storage connection string is empty")
    parts: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, value = part.partition("=")
        parts[name] = value
    if parts.get("UseDevelopmentStorage", "").lower() == "true":
        return DEVELOPMENT_STORAGE
    if "AccountName" not in parts and not any(k.endswith("Endpoint") for k in parts):
        raise ConfigurationError(
            "the Azure Storage connection string has neither AccountName nor endpoints; "
            "expected 'UseDevelopmentStorage=true' or "
            "'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...'"
        )
    return text
