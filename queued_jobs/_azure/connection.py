"""How to reach a storage account: a connection string, or service URIs and a Microsoft Entra
credential (an *identity-based connection*), read from app settings as the Functions host
reads them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit
from urllib.request import getproxies_environment

from ..errors import ConfigurationError
from .credentials import CREDENTIAL_SETTINGS, CredentialRecipe, recipe_from_settings
from .setting_keys import warn_about_ignored_settings

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.data.tables.aio import TableClient
    from azure.storage.blob.aio import BlobServiceClient, ContainerClient
    from azure.storage.queue.aio import QueueServiceClient

__all__ = [
    "DEVELOPMENT_STORAGE",
    "AccountClients",
    "StorageConnection",
    "expand_connection_string",
    "redacted_connection_string",
    "redacted_uri",
    "sdk_options",
]

Service = Literal["blob", "queue", "table"]
SERVICES: Final[tuple[Service, ...]] = ("blob", "queue", "table")

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
#: The identity-based settings ``<connection>__<name>`` that queued-jobs reads, by service.
_URI_SETTINGS: Final[dict[Service, str]] = {
    "blob": "blobServiceUri",
    "queue": "queueServiceUri",
    "table": "tableServiceUri",
}
_ACCOUNT_NAME_SETTING: Final = "accountName"
_SETTING_KEYS: Final = (*_URI_SETTINGS.values(), _ACCOUNT_NAME_SETTING, *CREDENTIAL_SETTINGS)
#: The connection-string keys whose values may be shown; every other value is hidden.
_SHOWN_KEYS: Final = frozenset(
    key.lower()
    for key in (
        "DefaultEndpointsProtocol",
        "AccountName",
        "EndpointSuffix",
        "UseDevelopmentStorage",
        "DevelopmentStorageProxyUri",
        *(
            f"{kind}{secondary}Endpoint"
            for kind in ("Blob", "Queue", "Table", "File", "Dfs")
            for secondary in ("", "Secondary")
        ),
    )
)
_HIDDEN: Final = "***"


def redacted_connection_string(connection_string: str) -> str:
    """``connection_string`` fit for logs and errors: the account key, the SAS token and
    any other value not known to be public replaced by ``***`` (Azurite's well-known
    connection reads ``UseDevelopmentStorage=true``)."""
    if connection_string == DEVELOPMENT_STORAGE:
        return "UseDevelopmentStorage=true"
    shown = []
    for part in connection_string.split(";"):
        name, equals, value = part.partition("=")
        if not equals:
            shown.append(part if not part.strip() else _HIDDEN)
        elif name.strip().lower() in _SHOWN_KEYS:
            shown.append(f"{name}={redacted_uri(value)}")
        else:
            shown.append(f"{name}={_HIDDEN}")
    return ";".join(shown)


def redacted_uri(uri: str) -> str:
    """``uri`` with its query (where a SAS token would be) replaced by ``***``."""
    head, question, query = uri.partition("?")
    return f"{head}?{_HIDDEN}" if question and query else uri


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


def _https_uri(uri: str, what: str) -> str:
    parts = urlsplit(uri.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigurationError(
            f"{what} must be an https:// URI (Microsoft Entra tokens are only sent over TLS), "
            f"not {redacted_uri(uri.strip())!r}"
        )
    return uri.strip().rstrip("/")


@dataclass(frozen=True, repr=False)
class StorageConnection:
    """One storage account, reached with a connection string **or** with service URIs and
    a Microsoft Entra token credential.

    - ``StorageConnection.from_string("UseDevelopmentStorage=true")``: Azurite; any
      connection string the storage SDKs accept (account key or SAS).
    - ``StorageConnection(blob_service_uri=..., queue_service_uri=...,
      table_service_uri=..., credential=DefaultAzureCredential())``: your own credential,
      which you close.
    - ``StorageConnection.from_settings("AzureWebJobsStorage")``: from app settings, the way
      the Functions host reads the same connection (see :meth:`from_settings`).

    Without ``credential``, each opened store builds its own from ``recipe`` (by default
    ``DefaultAzureCredential``) and closes it with its clients.

    Its ``repr`` (and ``str``) hides the account key, SAS tokens and the credential.
    """

    connection_string: str | None = None
    blob_service_uri: str | None = None
    queue_service_uri: str | None = None
    table_service_uri: str | None = None
    credential: AsyncTokenCredential | None = field(default=None, repr=False, compare=False)
    recipe: CredentialRecipe = field(default_factory=CredentialRecipe)

    def __post_init__(self) -> None:
        uris = {s: self._given_uri(s) for s in SERVICES}
        if self.connection_string is not None:
            if any(uris.values()) or self.credential is not None:
                raise ConfigurationError(
                    "give a storage connection either a connection string or service URIs "
                    "with a credential, not both"
                )
            object.__setattr__(
                self, "connection_string", expand_connection_string(self.connection_string)
            )
            return
        if not any(uris.values()):
            raise ConfigurationError(
                "a storage connection needs a connection string or at least one service URI"
            )
        for service, uri in uris.items():
            if uri:
                checked = _https_uri(uri, f"the {service} service URI")
                object.__setattr__(self, f"{service}_service_uri", checked)

    def __repr__(self) -> str:
        shown = []
        if self.connection_string is not None:
            redacted = redacted_connection_string(self.connection_string)
            shown.append(f"connection_string={redacted!r}")
        for service in SERVICES:
            if uri := self._given_uri(service):
                shown.append(f"{service}_service_uri={redacted_uri(uri)!r}")
        if self.credential is not None:
            shown.append(f"credential=<{type(self.credential).__name__}>")
        elif self.uses_identity:
            shown.append(f"recipe={self.recipe!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def of(cls, connection: StorageConnection | str) -> StorageConnection:
        """``connection`` itself, or the connection its connection string names."""
        if isinstance(connection, str):
            return cls.from_string(connection)
        return connection

    @classmethod
    def from_string(cls, connection_string: str) -> StorageConnection:
        """A connection string (``UseDevelopmentStorage=true`` means Azurite's defaults)."""
        return cls(connection_string=connection_string)

    @classmethod
    def from_settings(
        cls, name: str = "AzureWebJobsStorage", *, environ: Mapping[str, str] | None = None
    ) -> StorageConnection:
        """The connection named ``name`` in app settings (environment variables), read as
        the Functions host reads a binding's ``connection``:

        - ``<name>``: a connection string. When it is set (not empty) it wins.
        - otherwise the identity-based settings ``<name>__blobServiceUri``,
          ``<name>__queueServiceUri`` and ``<name>__tableServiceUri`` (or
          ``<name>__accountName``, which stands for the three public-cloud URIs of that
          account), with the credential chosen by ``<name>__credential``
          (``managedidentity``), ``<name>__clientId`` or ``<name>__managedIdentityResourceId``
          (a user-assigned identity), or ``<name>__tenantId`` + ``<name>__clientId`` +
          ``<name>__clientSecret`` (a service principal); with none of these,
          ``DefaultAzureCredential``.

        All three services are required (jobs use tables, queues and blobs). Any other
        ``<name>__*`` setting is logged as a warning and ignored.
        """
        settings = os.environ if environ is None else environ
        connection_string = _setting(settings, name).strip()
        if connection_string:
            return cls(connection_string=connection_string)
        section = _section(settings, name)
        warn_about_ignored_settings(name, settings, _SETTING_KEYS)
        uris = _service_uris(name, section)
        missing = [s for s in SERVICES if not uris.get(s)]
        if missing:
            wanted = ", ".join(f"{name}__{_URI_SETTINGS[s]}" for s in missing)
            if len(missing) == len(SERVICES):
                raise ConfigurationError(
                    f"app setting {name!r} (the storage connection) is not set: set it to a "
                    f"connection string ('UseDevelopmentStorage=true' locally), or set "
                    f"{wanted} (or {name}__{_ACCOUNT_NAME_SETTING}) for an identity-based "
                    "connection"
                )
            raise ConfigurationError(f"the identity-based connection {name!r} lacks {wanted}")
        return cls(
            blob_service_uri=uris["blob"],
            queue_service_uri=uris["queue"],
            table_service_uri=uris["table"],
            recipe=recipe_from_settings(name, section),
        )

    @classmethod
    def unusable(cls, problem: str) -> StorageConnection:
        """A connection that fails with ``problem`` on its first request, for settings
        that cannot work but must not stop an app from loading (its URIs are in the
        reserved ``.invalid`` domain; no request leaves without a token, and none is
        given)."""
        return cls(
            blob_service_uri="https://unconfigured.blob.invalid",
            queue_service_uri="https://unconfigured.queue.invalid",
            table_service_uri="https://unconfigured.table.invalid",
            recipe=CredentialRecipe("unusable", problem=problem),
        )

    @property
    def uses_identity(self) -> bool:
        """Whether requests carry Microsoft Entra tokens (no connection string)."""
        return self.connection_string is None

    def describe(self) -> str:
        """A one-line description without secrets, for logs and errors."""
        if self.connection_string is not None:
            parts = dict(
                p.partition("=")[::2] for p in self.connection_string.split(";") if "=" in p
            )
            return f"connection string for account {parts.get('AccountName', '?')}"
        how = "the given credential" if self.credential is not None else self.recipe.describe()
        hosts = sorted({urlsplit(u).netloc for s in SERVICES if (u := self._given_uri(s))})
        return f"{', '.join(hosts)} with {how}"

    def clients(self, options: Mapping[str, Any] | None = None) -> AccountClients:
        """Builders of SDK clients for this account that share one credential; ``options``
        go to every client."""
        return AccountClients(self, sdk_options(options))

    def _given_uri(self, service: Service) -> str | None:
        uri: str | None = getattr(self, f"{service}_service_uri")
        return uri or None


class AccountClients:
    """SDK clients for one account, made by :meth:`StorageConnection.clients`.

    With an identity-based connection they share one token credential: the caller's if
    the connection carries one, else one built here, which ``owned_credential`` returns
    for the store to close after its clients.
    """

    def __init__(self, connection: StorageConnection, options: dict[str, Any]) -> None:
        self._connection = connection
        self._options = options
        self._credential: AsyncTokenCredential | None = connection.credential
        self.owned_credential: AsyncTokenCredential | None = None
        if connection.uses_identity and self._credential is None:
            self._credential = self.owned_credential = connection.recipe.build()

    def _uri(self, service: Service) -> str:
        uri = self._connection._given_uri(service)
        if uri is None:
            raise ConfigurationError(
                f"this storage connection has no {service} service URI "
                f"({self._connection.describe()})"
            )
        return uri

    def table(self, name: str) -> TableClient:
        from azure.data.tables.aio import TableClient

        client: TableClient = self._build(TableClient, "table", table_name=name)
        return client

    def queue_service(self) -> QueueServiceClient:
        from azure.storage.queue.aio import QueueServiceClient

        client: QueueServiceClient = self._build(QueueServiceClient, "queue")
        return client

    def container(self, name: str, **options: Any) -> ContainerClient:
        """``options`` are defaults that the connection's options override."""
        from azure.storage.blob.aio import ContainerClient

        client: ContainerClient = self._build(
            ContainerClient, "blob", container_name=name, **options
        )
        return client

    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob.aio import BlobServiceClient

        client: BlobServiceClient = self._build(BlobServiceClient, "blob")
        return client

    def _build(self, client_type: Any, service: Service, **arguments: Any) -> Any:
        options = {**arguments, **self._options}
        connection_string = self._connection.connection_string
        try:
            if connection_string is not None:
                return client_type.from_connection_string(connection_string, **options)
            return client_type(self._uri(service), credential=self._credential, **options)
        except ValueError as exc:
            raise ConfigurationError(
                f"invalid storage connection ({self._connection.describe()}): {exc}"
            ) from exc


def _setting(settings: Mapping[str, str], name: str) -> str:
    """The setting ``name``, also when spelled in another case (as the host finds it)."""
    value = settings.get(name)
    if value is None:
        folded = name.lower()
        value = next((v for k, v in settings.items() if k.lower() == folded), "")
    return value


def _section(settings: Mapping[str, str], name: str) -> dict[str, str]:
    """The non-empty ``<name>__<key>`` settings that queued-jobs reads, keyed by ``key`` in
    lower case. Names match regardless of case, as in the host's configuration."""
    folded: dict[str, str] | None = None
    section: dict[str, str] = {}
    for key in _SETTING_KEYS:
        value = settings.get(f"{name}__{key}")
        if value is None:  # perhaps spelled in another case
            if folded is None:
                folded = {k.lower(): v for k, v in settings.items()}
            value = folded.get(f"{name}__{key}".lower())
        if value and value.strip():
            section[key.lower()] = value.strip()
    return section


def _service_uris(name: str, section: Mapping[str, str]) -> dict[Service, str]:
    uris: dict[Service, str] = {}
    account = section.get(_ACCOUNT_NAME_SETTING.lower())
    for service, setting in _URI_SETTINGS.items():
        uri = section.get(setting.lower())
        if uri:
            uris[service] = _https_uri(uri, f"app setting {name}__{setting}")
        elif account:
            uris[service] = f"https://{account}.{service}.core.windows.net"
    return uris
