"""The sample Function App indexes all its functions whatever ``AzureWebJobsStorage*``
settings it finds: settings it does not read are warned about and ignored, and settings
that cannot work fail at the first storage request, not at import (an exception at import
leaves the host with no function at all, the poison triggers included)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from azure.functions.queue import QueueMessage
from azure.identity.aio import ManagedIdentityCredential

from queued_jobs import JobApp, StorageConnection
from queued_jobs._azure.credentials import CredentialRecipe
from queued_jobs.errors import ConfigurationError
from queued_jobs.functions import FunctionsHost
from queued_jobs.models import Priority

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP = ROOT / "function_app"
PREFIX = "AzureWebJobsStorage"
RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-jobs/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-jobs"
)
URIS = {
    f"{PREFIX}__{service}ServiceUri": f"https://jobsacct.{service}.core.windows.net"
    for service in ("blob", "queue", "table")
}
#: Every function the blueprint registers: a trigger and a poison trigger per band, the sweep.
FUNCTIONS = {
    name
    for priority in Priority
    for name in (f"queued_jobs_{priority.value}", f"queued_jobs_{priority.value}_poison")
} | {"queued_jobs_sweep"}

#: Settings the app uses as they are: no warning, no error.
USABLE = {
    "connection-string": {
        PREFIX: "DefaultEndpointsProtocol=https;AccountName=jobsacct;AccountKey=a2V5;"
        "EndpointSuffix=core.windows.net"
    },
    "development-storage": {PREFIX: "UseDevelopmentStorage=true"},
    "account-name": {f"{PREFIX}__accountName": "jobsacct"},
    "service-uris": URIS,
    "user-assigned-by-client-id": URIS
    | {f"{PREFIX}__credential": "managedidentity", f"{PREFIX}__clientId": "cid"},
    "user-assigned-by-resource-id": URIS
    | {
        f"{PREFIX}__credential": "managedidentity",
        f"{PREFIX}__managedIdentityResourceId": RESOURCE_ID,
    },
    "system-assigned": URIS | {f"{PREFIX}__credential": "managedidentity"},
    "mixed-case-as-the-host-matches": {
        "AZUREWEBJOBSSTORAGE__BLOBSERVICEURI": URIS[f"{PREFIX}__blobServiceUri"],
        "azurewebjobsstorage__queueserviceuri": URIS[f"{PREFIX}__queueServiceUri"],
        "AzureWebJobsStorage__TableServiceUri": URIS[f"{PREFIX}__tableServiceUri"],
        "AzureWebJobsStorage__Credential": "ManagedIdentity",
    },
    "mixed-case-connection-string": {"AZUREWEBJOBSSTORAGE": "UseDevelopmentStorage=true"},
}
#: Settings with one key queued-jobs does not read, and the key.
IGNORED = {
    "unknown-key": (URIS | {f"{PREFIX}__foo": "bar"}, f"{PREFIX}__foo"),
    "typo": (URIS | {f"{PREFIX}__clientID_": "cid"}, f"{PREFIX}__clientID_"),
    "host-only-service-uri": (
        URIS | {f"{PREFIX}__serviceUri": "https://jobsacct.blob.core.windows.net"},
        f"{PREFIX}__serviceUri",
    ),
    "host-only-workload-identity-file": (
        URIS | {f"{PREFIX}__tokenFilePath": "/var/run/token"},
        f"{PREFIX}__tokenFilePath",
    ),
    "mixed-case-unknown": (URIS | {"AZUREWEBJOBSSTORAGE__FOO": "bar"}, "AZUREWEBJOBSSTORAGE__FOO"),
}
#: Settings that cannot work, and what the error says.
UNUSABLE = {
    "client-id-and-resource-id": (
        URIS
        | {
            f"{PREFIX}__credential": "managedidentity",
            f"{PREFIX}__clientId": "cid",
            f"{PREFIX}__managedIdentityResourceId": RESOURCE_ID,
        },
        "both name a user-assigned identity",
    ),
    "unknown-credential": (URIS | {f"{PREFIX}__credential": "password"}, "__credential"),
    "missing-table-uri": (
        {k: v for k, v in URIS.items() if "table" not in k},
        f"lacks {PREFIX}__tableServiceUri",
    ),
    "http-uri": (
        URIS | {f"{PREFIX}__queueServiceUri": "http://jobsacct.queue.core.windows.net"},
        "must be an https:// URI",
    ),
    "nothing-set": ({}, f"app setting '{PREFIX}' .* is not set"),
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No storage settings but those a test sets, and the sample modules imported anew."""
    for key in list(os.environ):
        if key.lower().startswith(PREFIX.lower()):
            monkeypatch.delenv(key)
    monkeypatch.setenv("QUEUED_JOBS_QUEUE", "jobs")
    monkeypatch.syspath_prepend(str(FUNCTION_APP))
    yield
    for name in ("function_app", "sample_jobs"):
        sys.modules.pop(name, None)


def import_function_app(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> ModuleType:
    """The sample's ``function_app`` module, imported as the host imports it to index."""
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    for name in ("function_app", "sample_jobs"):
        sys.modules.pop(name, None)
    import function_app

    return function_app


def indexed(module: ModuleType) -> set[str]:
    return {function.get_function_name() for function in module.function_app.get_functions()}


def settings_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "queued_jobs.settings"]


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("settings", USABLE.values(), ids=USABLE)
def test_every_usable_settings_form_indexes_every_function_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, settings: dict[str, str]
) -> None:
    with caplog.at_level(logging.WARNING, logger="queued_jobs"):
        module = import_function_app(monkeypatch, settings)

    assert indexed(module) == FUNCTIONS
    assert settings_records(caplog) == []
    assert module.app.storage.connection.recipe.kind != "unusable"


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize(("settings", "key"), IGNORED.values(), ids=IGNORED)
def test_a_setting_queued_jobs_does_not_read_is_named_in_one_warning_and_ignored(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    settings: dict[str, str],
    key: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="queued_jobs"):
        module = import_function_app(monkeypatch, settings)

    assert indexed(module) == FUNCTIONS
    records = settings_records(caplog)
    assert [r.levelno for r in records] == [logging.WARNING]
    assert key in records[0].getMessage()
    # The rest of the settings are used as if the key were not there.
    without = {k: v for k, v in settings.items() if k != key}
    assert module.app.storage.connection == StorageConnection.from_settings(environ=without)


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize(("settings", "message"), UNUSABLE.values(), ids=UNUSABLE)
async def test_settings_that_cannot_work_still_index_every_function_and_fail_at_first_use(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    settings: dict[str, str],
    message: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="queued_jobs"):
        module = import_function_app(monkeypatch, settings)

    assert indexed(module) == FUNCTIONS
    errors = [r for r in settings_records(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert PREFIX in errors[0].getMessage()
    app: JobApp = module.app
    # The first use fails, as a host (trigger, sweep, worker) makes it, and says what to fix.
    host = FunctionsHost(app)
    with pytest.raises(ConfigurationError, match=message):
        await host.handle(QueueMessage(id="m1", body=b"a job message", dequeue_count=1), "jobs")
    with pytest.raises(ConfigurationError, match=message):
        await host.sweep()
    with pytest.raises(ConfigurationError, match=message):
        app.worker()
    # So does a request of the file store the app made at import.
    documents = app.files("documents")
    try:
        with pytest.raises(ConfigurationError, match=message):
            await documents.create()
    finally:
        await documents.close()


async def test_a_resource_id_names_the_user_assigned_identity_the_credential_uses() -> None:
    settings = URIS | {
        f"{PREFIX}__credential": "managedidentity",
        f"{PREFIX}__managedIdentityResourceId": RESOURCE_ID,
    }

    recipe = StorageConnection.from_settings(environ=settings).recipe

    assert recipe == CredentialRecipe("managed_identity", resource_id=RESOURCE_ID)
    assert RESOURCE_ID in recipe.describe()
    credential = recipe.build()
    assert isinstance(credential, ManagedIdentityCredential)
    await credential.close()
