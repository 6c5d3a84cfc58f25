"""Connection strings, as the Azure Functions host and the storage SDKs read them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.request import getproxies_environment

from ..errors import ConfigurationError

__all__ = ["DEVELOPMENT_STORAGE", "expand_connection_string", "sdk_options"]

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


def sdk_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Options for an Azure SDK client: the caller's, and ``use_env_settings=False`` when
    the environment names no proxy.

    With environment settings on (the SDK default), aiohttp looks up the proxy variables
    and ``~/.netrc`` in a worker thread on every request: two thread hops that cost more
    CPU than the rest of a storage request. Only a proxy makes them useful (storage
    requests carry their own credentials), so they stay on when ``HTTP(S)_PROXY`` is set.
    """
    chosen = dict(options or {})
    proxies = {scheme for scheme in getproxies_environment() if scheme != "no"}
    chosen.setdefault("use_env_settings", bool(proxies))
    return chosen
