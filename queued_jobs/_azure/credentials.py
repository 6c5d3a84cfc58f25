"""Which Microsoft Entra credential an identity-based connection uses, from the settings
``<connection>__credential``, ``__clientId``, ``__tenantId`` and ``__clientSecret``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = ["CREDENTIAL_SETTINGS", "CredentialRecipe", "recipe_from_settings"]

#: The credential settings ``<connection>__<name>`` that queued-jobs reads.
CREDENTIAL_SETTINGS: Final = ("credential", "clientId", "tenantId", "clientSecret")
_MANAGED_IDENTITY: Final = "managedidentity"


@dataclass(frozen=True)
class CredentialRecipe:
    """How to build the token credential of an identity-based connection.

    - ``default``: ``DefaultAzureCredential`` (environment, workload identity, managed
      identity, then developer sign-ins such as ``az login``), with ``client_id`` as the
      user-assigned managed identity to prefer;
    - ``managed_identity``: only the managed identity (``client_id``: a user-assigned
      one; none: the system-assigned one), as ``__credential=managedidentity`` asks;
    - ``client_secret``: a service principal's secret.
    """

    kind: Literal["default", "managed_identity", "client_secret"] = "default"
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
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

        if self.kind == "managed_identity":
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
        if self.kind == "managed_identity":
            which = f"client id {self.client_id}" if self.client_id else "system-assigned"
            return f"managed identity ({which})"
        if self.kind == "client_secret":
            return f"service principal {self.client_id} in tenant {self.tenant_id}"
        if self.client_id:
            return f"DefaultAzureCredential (managed identity client id {self.client_id})"
        return "DefaultAzureCredential"


def recipe_from_settings(name: str, section: Mapping[str, str]) -> CredentialRecipe:
    """The recipe for the connection ``name`` from its non-empty ``<name>__*`` settings
    (``section``, keys in lower case)."""
    credential = section.get("credential", "").lower()
    client_id = section.get("clientid")
    tenant_id = section.get("tenantid")
    secret = section.get("clientsecret")
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
        return CredentialRecipe("managed_identity", client_id=client_id)
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
