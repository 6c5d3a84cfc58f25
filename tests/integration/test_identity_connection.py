"""Identity-based connections against Azurite serving HTTPS with ``--oauth basic``: jobs run
with bearer tokens only, credentials built from settings are closed with their stores, and
a token Azure Storage would refuse ends as a ConfigurationError.

The contract suites run every Azure adapter over the same kind of connection
(``azure-identity``); these tests cover what lies above the adapters.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from queued_jobs import AzureStorage, JobStatus, StorageConnection
from queued_jobs._azure.credentials import CredentialRecipe
from queued_jobs.client import JobClient
from queued_jobs.clock import SYSTEM_CLOCK
from queued_jobs.errors import ConfigurationError
from tests.integration.jobs import build_app
from tests.support.azurite import Azurite
from tests.support.identity import identity_connection
from tests.support.tokens import AzuriteTokenCredential

pytestmark = [pytest.mark.asyncio, pytest.mark.azurite]

ClientOf = Callable[[Any], Awaitable[Any]]
RunWorker = Callable[..., Awaitable[None]]


def _names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {"table": f"jobs{suffix}", "container": f"payloads{suffix}"}


def _identity_settings(azurite: Azurite, **extra: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage__blobServiceUri": azurite.service_uri("blob"),
        "AzureWebJobsStorage__queueServiceUri": azurite.service_uri("queue"),
        "AzureWebJobsStorage__tableServiceUri": azurite.service_uri("table"),
        **{f"AzureWebJobsStorage__{k}": v for k, v in extra.items()},
    }


async def test_jobs_run_end_to_end_with_tokens_only(
    azurite_oauth: Azurite,
    client_of: ClientOf,
    run_worker: RunWorker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QJ_TEST_EVENTS", str(tmp_path / "events.log"))
    connection, options = identity_connection(azurite_oauth)
    app = build_app(AzureStorage(connection, client_options=options, **_names()))
    client: JobClient = await client_of(app)

    request = {"sleeps": [0.0] * 20_000}  # over the inline limit: the request is a blob
    job = await client.queue_job("tests.work", request, owner="alice")

    async def done() -> bool:
        return (await client.get_job(job.id)).is_terminal

    await run_worker(app, done)
    finished = await client.get_job(job.id)
    assert finished.status is JobStatus.SUCCEEDED, finished.error
    assert finished.request == {**request, "failures": 0, "permanent": False}
    credential = cast(AzuriteTokenCredential, connection.credential)
    assert set(credential.scopes) == {"https://storage.azure.com/.default"}


async def test_credentials_built_from_settings_are_closed_with_their_stores(
    azurite_oauth: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[AzuriteTokenCredential] = []

    def build(recipe: CredentialRecipe) -> AzuriteTokenCredential:
        built.append(AzuriteTokenCredential())
        return built[-1]

    monkeypatch.setattr(CredentialRecipe, "build", build)
    settings = _identity_settings(azurite_oauth, credential="managedidentity", clientId="cid")
    storage = AzureStorage.from_setting(environ=settings, **_names())
    assert storage.connection == StorageConnection(
        blob_service_uri=azurite_oauth.service_uri("blob"),
        queue_service_uri=azurite_oauth.service_uri("queue"),
        table_service_uri=azurite_oauth.service_uri("table"),
        recipe=CredentialRecipe("managed_identity", client_id="cid"),
    )
    storage = AzureStorage(
        storage.connection,
        client_options={"connection_verify": str(azurite_oauth.ca_file)},
        **_names(),
    )
    repository, broker = storage.open(SYSTEM_CLOCK)
    files = storage.files("documents")
    await repository.create()
    await broker.queue("identity" + uuid.uuid4().hex[:8]).create()
    await files.create()
    await files.write("a.txt", b"a")
    link = await files.download_link("a.txt", expires_in=timedelta(minutes=5))
    assert "skoid=" in link.url  # signed with a user delegation key, not an account key

    await repository.close()
    await broker.close()
    await files.close()

    assert [c.closed for c in built] == [1, 1, 1]
    assert all(c.scopes for c in built)


async def test_a_token_for_another_audience_is_refused_as_a_configuration_error(
    azurite_oauth: Azurite,
) -> None:
    connection, options = identity_connection(azurite_oauth)
    wrong = StorageConnection(
        blob_service_uri=connection.blob_service_uri,
        queue_service_uri=connection.queue_service_uri,
        table_service_uri=connection.table_service_uri,
        credential=AzuriteTokenCredential(audience="https://vault.azure.net"),
    )
    storage = AzureStorage(wrong, client_options={**options, "retry_total": 0}, **_names())
    repository, broker = storage.open(SYSTEM_CLOCK)
    try:
        with pytest.raises(ConfigurationError, match="refused the credentials"):
            await broker.queue("refused" + uuid.uuid4().hex[:8]).create()
        with pytest.raises(ConfigurationError, match="refused the credentials"):
            await repository.create()
    finally:
        await repository.close()
        await broker.close()


async def test_without_a_usable_identity_the_error_says_no_token_was_found(
    azurite_oauth: Azurite,
) -> None:
    class NoIdentity(AzuriteTokenCredential):
        async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            from azure.identity import CredentialUnavailableError

            raise CredentialUnavailableError("no identity is available here")

    connection, options = identity_connection(azurite_oauth)
    storage = AzureStorage(
        StorageConnection(
            blob_service_uri=connection.blob_service_uri,
            queue_service_uri=connection.queue_service_uri,
            table_service_uri=connection.table_service_uri,
            credential=NoIdentity(),
        ),
        # The storage SDKs retry a credential's failure like a transient one (about 80 s
        # with their defaults); one try is enough to see the error.
        client_options={**options, "retry_total": 0},
        **_names(),
    )
    repository, broker = storage.open(SYSTEM_CLOCK)
    try:
        with pytest.raises(ConfigurationError, match="could not get a Microsoft Entra token"):
            await broker.queue("noidentity" + uuid.uuid4().hex[:6]).create()
    finally:
        await repository.close()
        await broker.close()
