"""Storage connections from app settings, read as the Functions host reads them: a
connection string, or identity-based service URIs with a credential choice."""

from __future__ import annotations

import pytest
from azure.identity.aio import (
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
)

from queued_jobs import AzureStorage, StorageConnection
from queued_jobs._azure.connection import DEVELOPMENT_STORAGE
from queued_jobs._azure.credentials import CredentialRecipe
from queued_jobs.errors import ConfigurationError
from tests.support.tokens import AzuriteTokenCredential

ACCOUNT = "https://jobsacct.{}.core.windows.net"
URIS = {
    "AzureWebJobsStorage__blobServiceUri": ACCOUNT.format("blob") + "/",
    "AzureWebJobsStorage__queueServiceUri": ACCOUNT.format("queue"),
    "AzureWebJobsStorage__tableServiceUri": ACCOUNT.format("table"),
}


def identity(**recipe: str | None) -> StorageConnection:
    return StorageConnection(
        blob_service_uri=ACCOUNT.format("blob"),
        queue_service_uri=ACCOUNT.format("queue"),
        table_service_uri=ACCOUNT.format("table"),
        recipe=CredentialRecipe(**recipe),  # type: ignore[arg-type]
    )


def test_a_connection_string_setting_is_used_as_is_and_development_storage_expanded() -> None:
    got = StorageConnection.from_settings(
        environ={"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    )

    assert got == StorageConnection(connection_string=DEVELOPMENT_STORAGE)
    assert not got.uses_identity


def test_a_set_connection_string_wins_over_identity_settings_as_in_the_host() -> None:
    settings = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", **URIS}

    assert (
        StorageConnection.from_settings(environ=settings).connection_string == DEVELOPMENT_STORAGE
    )


def test_an_empty_connection_string_falls_back_to_identity_settings() -> None:
    settings = {"AzureWebJobsStorage": " ", **URIS}

    assert StorageConnection.from_settings(environ=settings) == identity()


def test_service_uris_alone_mean_default_azure_credential() -> None:
    got = StorageConnection.from_settings(environ=URIS)

    assert got == identity(kind="default")
    assert got.uses_identity
    assert got.describe() == (
        "jobsacct.blob.core.windows.net, jobsacct.queue.core.windows.net, "
        "jobsacct.table.core.windows.net with DefaultAzureCredential"
    )


@pytest.mark.parametrize(
    ("extra", "recipe"),
    [
        (
            {"credential": "managedidentity", "clientId": "0000-cid"},
            CredentialRecipe("managed_identity", client_id="0000-cid"),
        ),
        ({"credential": "ManagedIdentity"}, CredentialRecipe("managed_identity")),
        ({"clientId": "0000-cid"}, CredentialRecipe("default", client_id="0000-cid")),
        (
            {"tenantId": "tid", "clientId": "cid", "clientSecret": "s3cret"},
            CredentialRecipe(
                "client_secret", client_id="cid", tenant_id="tid", client_secret="s3cret"
            ),
        ),
    ],
    ids=["user-assigned", "system-assigned", "default-preferring-client-id", "service-principal"],
)
def test_the_credential_settings_choose_the_credential(
    extra: dict[str, str], recipe: CredentialRecipe
) -> None:
    settings = URIS | {f"AzureWebJobsStorage__{k}": v for k, v in extra.items()}

    assert StorageConnection.from_settings(environ=settings).recipe == recipe


def test_setting_names_are_matched_without_regard_to_case_as_the_host_does() -> None:
    settings = {k.upper(): v for k, v in URIS.items()} | {
        "AZUREWEBJOBSSTORAGE__CREDENTIAL": "managedidentity"
    }

    assert StorageConnection.from_settings(environ=settings) == identity(kind="managed_identity")


def test_an_account_name_stands_for_the_public_cloud_uris_of_that_account() -> None:
    got = StorageConnection.from_settings(environ={"AzureWebJobsStorage__accountName": "jobsacct"})

    assert got == identity()


def test_another_connection_name_reads_its_own_settings() -> None:
    settings = {k.replace("AzureWebJobsStorage", "JobsStorage"): v for k, v in URIS.items()}

    assert StorageConnection.from_settings("JobsStorage", environ=settings) == identity()
    with pytest.raises(ConfigurationError, match="'AzureWebJobsStorage'"):
        StorageConnection.from_settings(environ=settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "app setting 'AzureWebJobsStorage' .* is not set: set it to a connection string"),
        (
            {"AzureWebJobsStorage__queueServiceUri": ACCOUNT.format("queue")},
            "lacks AzureWebJobsStorage__blobServiceUri, AzureWebJobsStorage__tableServiceUri",
        ),
        (
            URIS
            | {"AzureWebJobsStorage__queueServiceUri": "http://jobsacct.queue.core.windows.net"},
            "must be an https:// URI",
        ),
        (
            URIS | {"AzureWebJobsStorage__credential": "secret"},
            "only value understood is 'managedidentity'",
        ),
        (
            URIS | {"AzureWebJobsStorage__tenantId": "tid"},
            "needs all of AzureWebJobsStorage__tenantId",
        ),
        (
            URIS
            | {
                "AzureWebJobsStorage__credential": "managedidentity",
                "AzureWebJobsStorage__clientSecret": "x",
            },
            "contradict each other",
        ),
        (
            URIS
            | {
                "AzureWebJobsStorage__credential": "managedidentity",
                "AzureWebJobsStorage__clientId": "cid",
                "AzureWebJobsStorage__managedIdentityResourceId": "/subscriptions/x",
            },
            "both name a user-assigned identity",
        ),
        (
            URIS | {"AzureWebJobsStorage__managedIdentityResourceId": "/subscriptions/x"},
            "needs AzureWebJobsStorage__credential=managedidentity",
        ),
        ({"AzureWebJobsStorage": "Nothing=here"}, "neither AccountName nor endpoints"),
    ],
    ids=[
        "nothing",
        "missing-uris",
        "http",
        "credential",
        "partial-principal",
        "mi-with-secret",
        "client-id-and-resource-id",
        "resource-id-without-managed-identity",
        "bad-string",
    ],
)
def test_settings_that_cannot_work_are_refused_with_what_to_set(
    settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StorageConnection.from_settings(environ=settings)


def test_a_connection_takes_a_string_or_uris_not_both() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        StorageConnection(
            connection_string="UseDevelopmentStorage=true", queue_service_uri=ACCOUNT.format("q")
        )
    with pytest.raises(ConfigurationError, match="needs a connection string or"):
        StorageConnection()


def test_a_service_principal_secret_stays_out_of_reprs_and_descriptions() -> None:
    recipe = CredentialRecipe(
        "client_secret", client_id="cid", tenant_id="tid", client_secret="s3cret"
    )

    assert "s3cret" not in repr(
        identity(kind="client_secret", client_id="cid", tenant_id="tid", client_secret="s3cret")
    )
    assert "s3cret" not in recipe.describe()


@pytest.mark.parametrize(
    ("recipe", "kind"),
    [
        (CredentialRecipe("managed_identity", client_id="cid"), ManagedIdentityCredential),
        (CredentialRecipe("default", client_id="cid"), DefaultAzureCredential),
        (CredentialRecipe(), DefaultAzureCredential),
        (
            CredentialRecipe("client_secret", client_id="c", tenant_id="t", client_secret="s"),
            ClientSecretCredential,
        ),
    ],
)
async def test_each_recipe_builds_its_azure_identity_credential(
    recipe: CredentialRecipe, kind: type
) -> None:
    credential = recipe.build()
    try:
        assert type(credential) is kind
    finally:
        await credential.close()


async def test_clients_of_an_identity_connection_use_its_uris_and_one_credential() -> None:
    credential = AzuriteTokenCredential()
    connection = StorageConnection(
        blob_service_uri=ACCOUNT.format("blob"),
        queue_service_uri=ACCOUNT.format("queue"),
        table_service_uri=ACCOUNT.format("table"),
        credential=credential,
    )
    clients = connection.clients({"retry_total": 0})
    table, queues, container = (
        clients.table("jobs"),
        clients.queue_service(),
        clients.container("docs"),
    )
    try:
        assert table.url.startswith(ACCOUNT.format("table"))
        assert queues.url.startswith(ACCOUNT.format("queue"))
        assert container.url == ACCOUNT.format("blob") + "/docs"
        assert table.credential is queues.credential is container.credential is credential
        assert clients.owned_credential is None  # the caller's credential: the caller closes it
    finally:
        for client in (table, queues, container):
            await client.close()


async def test_clients_of_settings_own_the_credential_they_build() -> None:
    clients = StorageConnection.from_settings(environ=URIS).clients()

    assert isinstance(clients.owned_credential, DefaultAzureCredential)
    await clients.owned_credential.close()


def test_azure_storage_reads_either_form_from_settings() -> None:
    by_string = AzureStorage.from_setting(
        environ={"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    )
    by_identity = AzureStorage.from_setting(environ=URIS, table="tasks")

    assert by_string.connection == StorageConnection.from_string("UseDevelopmentStorage=true")
    assert (by_identity.connection, by_identity.table) == (identity(), "tasks")
    assert AzureStorage("UseDevelopmentStorage=true") == by_string
