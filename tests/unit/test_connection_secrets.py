"""Storage settings never show their secrets: the repr and str of a connection (and of the
storage holding it) and the errors about a bad one hide account keys, SAS tokens and
client secrets; the account name, the endpoints and ``UseDevelopmentStorage=true`` show."""

from __future__ import annotations

import pytest

from queued_jobs import AzureStorage, StorageConnection
from queued_jobs._azure.connection import DEVELOPMENT_STORAGE
from queued_jobs.errors import ConfigurationError
from tests.support.tokens import AzuriteTokenCredential

KEY = "U0VDUkVUa2V5bWF0ZXJpYWwwMTIzNDU2Nzg5U0VDUkVU"
SIGNATURE = "sv=2024-08-04&ss=bqt&srt=sco&sp=rwdlacup&se=2031-01-01&sig=SECRETsig%2Bvalue%3D"
SECRETS = (KEY, "SECRETsig", "SECRET-client-secret")


def shows_no_secret(text: str) -> bool:
    return not any(secret in text for secret in SECRETS)


def shown(connection: object) -> str:
    return f"{connection!r} {connection!s} {AzureStorage(connection)!r}"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "connection_string",
    [
        f"DefaultEndpointsProtocol=https;AccountName=jobsacct;AccountKey={KEY};"
        "EndpointSuffix=core.windows.net",
        f"AccountName=jobsacct;accountkey={KEY}",  # a name in another case
        f"AccountName=jobsacct;AccountKey={KEY};{KEY}",  # a stray piece without a name
        f"BlobEndpoint=https://jobsacct.blob.core.windows.net;SharedAccessSignature={SIGNATURE}",
        f"QueueEndpoint=https://jobsacct.queue.core.windows.net?{SIGNATURE};AccountName=jobsacct",
    ],
    ids=["account key", "lower-case key name", "stray key", "sas", "sas in an endpoint"],
)
def test_a_connection_strings_repr_hides_its_key_and_shows_its_account(
    connection_string: str,
) -> None:
    connection = StorageConnection.from_string(connection_string)

    text = shown(connection)

    assert shows_no_secret(text)
    assert "jobsacct" in text
    assert "***" in text
    assert connection.connection_string == connection_string  # the secret is kept, only hidden


def test_development_storage_shows_as_such() -> None:
    connection = StorageConnection.from_string("UseDevelopmentStorage=true")

    assert repr(connection) == "StorageConnection(connection_string='UseDevelopmentStorage=true')"
    assert connection.connection_string == DEVELOPMENT_STORAGE


def test_identity_connections_show_their_uris_but_no_token_or_credential() -> None:
    with_credential = StorageConnection(
        blob_service_uri=f"https://jobsacct.blob.core.windows.net/?{SIGNATURE}",
        queue_service_uri="https://jobsacct.queue.core.windows.net",
        credential=AzuriteTokenCredential(),
    )
    service_principal = StorageConnection.from_settings(
        environ={
            "AzureWebJobsStorage__accountName": "jobsacct",
            "AzureWebJobsStorage__tenantId": "tenant-1",
            "AzureWebJobsStorage__clientId": "client-1",
            "AzureWebJobsStorage__clientSecret": "SECRET-client-secret",
        }
    )

    for connection in (with_credential, service_principal):
        text = shown(connection)
        assert shows_no_secret(text)
        assert "https://jobsacct.queue.core.windows.net" in text
    assert "client-1" in shown(service_principal)


@pytest.mark.parametrize(
    "make",
    [
        lambda: StorageConnection(
            blob_service_uri=f"http://jobsacct.blob.core.windows.net?{SIGNATURE}"
        ),
        lambda: StorageConnection.from_settings(
            environ={
                "AzureWebJobsStorage__blobServiceUri": f"http://a.blob.core.windows.net?{SIGNATURE}",
                "AzureWebJobsStorage__queueServiceUri": "https://a.queue.core.windows.net",
                "AzureWebJobsStorage__tableServiceUri": "https://a.table.core.windows.net",
            }
        ),
        lambda: StorageConnection.from_string(f"AccountKey={KEY}"),
        lambda: StorageConnection.from_string(f"SharedAccessSignature={SIGNATURE}"),
        lambda: (
            StorageConnection.from_string(f"AccountName=a;AccountKey={KEY};x").clients().table("t")
        ),
        lambda: (
            StorageConnection.from_string(
                f"AccountName=a;AccountKey={KEY};TableEndpoint=https://[bad"
            )
            .clients()
            .table("t")
        ),
    ],
    ids=["http uri", "http uri setting", "key alone", "sas alone", "malformed", "bad endpoint"],
)
def test_errors_about_a_bad_connection_name_no_secret(make: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make()  # type: ignore[operator]

    assert shows_no_secret(str(raised.value))
    assert shows_no_secret(str(raised.value.__cause__ or ""))
