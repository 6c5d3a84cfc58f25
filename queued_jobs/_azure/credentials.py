"""Which Microsoft Entra credential an identity-based connection uses, from the settings
``<connection>__credential``, ``__clientId``, ``__managedIdentityResourceId``, ``__tenantId``
and ``__clientSecret``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = [
    "CREDENTIAL_SETTINGS",
    "CredentialRecipe",
    "UnusableCredential",
    "recipe_from_settings",
    "unusable_connection_error",
]

#: The credential settings ``<connection>__<name>`` that queued-jobs reads.
CREDENTIAL_SETTINGS: Final = (
    "credential",
    "clientId",
    "managedIdentityResourceId",
    "tenantId",
    "clientSecret",
)
_MANAGED_IDENTITY: Final = "managedidentity"


@dataclass(frozen=True)
class CredentialRecipe:
    """How to build the token credential of an identity-based connection.

    - ``default``: ``DefaultAzureCredential`` (environment, workload identity, managed
      identity, then developer sign-ins such as ``az login``), with ``client_id`` as the
      user-assigned managed identity to prefer;
    - ``managed_identity``: only the managed identity (a user-assigned one named by
      ``client_id`` or ``resource_id``; neither: the system-assigned one), as
      ``__credential=managedidentity`` asks;
    - ``client_secret``: a service principal's secret;
    - ``unusable``: settings that cannot work (``problem`` says why): the credential
      raises :class:`ConfigurationError` on the first request, not before, so that an app
      importing these settings still loads.
    """

    kind: Literal["default", "managed_identity", "client_secret", "unusable"] = "default"
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    resource_id: str | None = None
    problem: str | None = None

    def __post_init__(self) -> None:
        if self.resource_id and (self.kind != "managed_identity" or self.client_id):
            raise ConfigurationError(
                "a managed identity's resource id names a user-assigned identity on its own: "
                "give it without a client id, to a managed identity credential"
            )
        if self.kind == "client_secret" and not (
            self.tenant_id and self.client_id and self.client_secret
        ):
            raise ConfigurationError(
                "a service principal credential needs a tenant id, a client id and a secret"
            )

    def build(self) -> AsyncTokenCredential:
        """A new credential; the caller closes it."""
        from azure.identity.aio import (
            ClientSecretCredential,
            DefaultAzureCredential,
            ManagedIdentityCredential,
        )

        if self.kind == "unusable":
            return UnusableCredential(self.problem or "the storage connection cannot be used")
        if self.kind == "managed_identity":
            if self.resource_id:
                return ManagedIdentityCredential(identity_config={"resource_id": self.resource_id})
            return ManagedIdentityCredential(client_id=self.client_id)
        if self.kind == "client_secret":
            return ClientSecretCredential(
                self.tenant_id or "", self.client_id or "", self.client_secret or ""
            )
        if self.client_id:
            return DefaultAzureCredential(managed_identity_client_id=self.client_id)
        return DefaultAzureCredential()

    def describe(self) -> str:
        """Which credential, without secrets."""
        if self.kind == "unusable":
            return f"no usable credential ({self.problem})"
        if self.kind == "managed_identity":
            if self.resource_id:
                return f"managed identity (resource id {self.resource_id})"
            which = f"client id {self.client_id}" if self.client_id else "system-assigned"
            return f"managed identity ({which})"
        if self.kind == "client_secret":
            return f"service principal {self.client_id} in tenant {self.tenant_id}"
        if self.client_id:
            return f"DefaultAzureCredential (managed identity client id {self.client_id})"
        return "DefaultAzureCredential"


def unusable_connection_error(problem: str) -> ConfigurationError:
    """What using a connection of settings that cannot work raises."""
    return ConfigurationError(
        f"the storage connection cannot be used: {problem}. Fix the app settings and restart "
        "the app"
    )


class UnusableCredential:
    """A token credential that refuses every token with the configuration problem that
    left the connection without one."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    async def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        raise unusable_connection_error(self.problem)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> UnusableCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        return None


def recipe_from_settings(name: str, section: Mapping[str, str]) -> CredentialRecipe:
    """The recipe for the connection ``name`` from its non-empty ``<name>__*`` settings
    (``section``, keys in lower case)."""
    credential = section.get("credential", "").lower()
    client_id = section.get("clientid")
    resource_id = section.get("managedidentityresourceid")
    tenant_id = section.get("tenantid")
    secret = section.get("clientsecret")
    if resource_id and credential != _MANAGED_IDENTITY:
        raise ConfigurationError(
            f"app setting {name}__managedIdentityResourceId needs "
            f"{name}__credential=managedidentity (DefaultAzureCredential cannot take a resource "
            f"id); or name the identity by {name}__clientId instead"
        )
    if credential:
        if credential != _MANAGED_IDENTITY:
            raise ConfigurationError(
                f"app setting {name}__credential is {section['credential']!r}; the only "
                f"value understood is {_MANAGED_IDENTITY!r} (leave it unset for "
                "DefaultAzureCredential)"
            )
        if secret:
            raise ConfigurationError(
                f"app settings {name}__credential=managedidentity and {name}__clientSecret "
                "contradict each other: a managed identity has no secret"
            )
        if resource_id and client_id:
            raise ConfigurationError(
                f"app settings {name}__clientId and {name}__managedIdentityResourceId both name "
                "a user-assigned identity: keep one of them"
            )
        return CredentialRecipe("managed_identity", client_id=client_id, resource_id=resource_id)
    if tenant_id or secret:
        if not (tenant_id and client_id and secret):
            raise ConfigurationError(
                f"a service principal needs all of {name}__tenantId, {name}__clientId and "
                f"{name}__clientSecret"
            )
        return CredentialRecipe(
            "client_secret", client_id=client_id, tenant_id=tenant_id, client_secret=secret
        )
    return CredentialRecipe("default", client_id=client_id)
