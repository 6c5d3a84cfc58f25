"""Entity-group transactions on Azurite: the lean writer and the SDK's own path agree.

Every test runs both ways (``lean`` builds the multipart body itself; ``sdk`` is
``TableClient.submit_transaction``) and reads the outcome back with the SDK.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from queued_jobs._azure.table_batch import TableTransactions, TransactionRejected, entity_json
from tests.support.azurite import Azurite
from tests.support.counting import RequestCounter

pytestmark = pytest.mark.azurite

REPLACE = {"mode": UpdateMode.REPLACE}
# Characters a row key may hold that need care in a sub-request's URL.
AWKWARD_KEY = "o|a b'c''é&+=;,$@:!*()~ü中|x"


@pytest.fixture
async def table(azurite: Azurite) -> AsyncIterator[tuple[TableClient, RequestCounter]]:
    counter = RequestCounter()
    client = TableClient.from_connection_string(
        azurite.connection_string,
        table_name=f"batch{uuid.uuid4().hex[:10]}",
        per_call_policies=[counter],
    )
    await client.create_table()
    counter.reset()
    yield client, counter
    await client.close()


@pytest.fixture(params=["lean", "sdk"])
def lean(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "lean")


def row(key: str, **properties: object) -> dict[str, object]:
    return {"PartitionKey": "p'1 é", "RowKey": key, **properties}


async def test_inserts_and_replaces_rows_in_one_request_returning_their_etags(
    table: tuple[TableClient, RequestCounter], lean: bool
) -> None:
    client, counter = table
    moment = datetime(2026, 11, 23, 13, 14, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    first = row(
        AWKWARD_KEY,
        Text="ünïcode \"quoted\" \\ 'single' \r\n tab\t 𝄞",
        When=moment,
        Small=-(2**31),
        Ratio=0.25,
        Flag=True,
        Missing=None,
    )
    transactions = TableTransactions(client, lean=lean)

    etags = await transactions.submit([("create", first), ("upsert", row("b", X="1"), REPLACE)])

    assert counter.total == 1
    stored = await client.get_entity("p'1 é", AWKWARD_KEY)
    assert etags[0] == stored.metadata["etag"]
    assert etags[1] == (await client.get_entity("p'1 é", "b")).metadata["etag"]
    assert stored["Text"] == first["Text"]
    assert stored["When"] == moment.astimezone(UTC)
    assert (stored["Small"], stored["Ratio"], stored["Flag"]) == (-(2**31), 0.25, True)
    assert "Missing" not in stored


async def test_a_stale_etag_rejects_the_whole_transaction_naming_the_operation(
    table: tuple[TableClient, RequestCounter], lean: bool
) -> None:
    client, _ = table
    transactions = TableTransactions(client, lean=lean)
    [stale] = await transactions.submit([("create", row("a", N="1"))])
    await transactions.submit([("upsert", row("a", N="2"), REPLACE)])
    guarded = {**REPLACE, "etag": stale, "match_condition": MatchConditions.IfNotModified}

    with pytest.raises(TransactionRejected) as caught:
        await transactions.submit(
            [("upsert", row("c", N="3"), REPLACE), ("update", row("a", N="4"), guarded)]
        )

    assert (caught.value.index, caught.value.error_code) == (1, "UpdateConditionNotSatisfied")
    assert caught.value.status_code == 412
    assert (await client.get_entity("p'1 é", "a"))["N"] == "2"
    with pytest.raises(ResourceNotFoundError):
        await client.get_entity("p'1 é", "c")  # all or nothing


async def test_a_current_etag_updates_and_deletes_remove_rows(
    table: tuple[TableClient, RequestCounter], lean: bool
) -> None:
    client, _ = table
    transactions = TableTransactions(client, lean=lean)
    [etag, _] = await transactions.submit([("create", row("a", N="1")), ("create", row("b"))])
    guarded = {**REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}

    [updated, deleted] = await transactions.submit(
        [("update", row("a", M="2"), guarded), ("delete", row("b"))]
    )

    stored = await client.get_entity("p'1 é", "a")
    assert (stored.get("N"), stored["M"], updated) == (None, "2", stored.metadata["etag"])
    assert deleted == ""
    with pytest.raises(ResourceNotFoundError):
        await client.get_entity("p'1 é", "b")


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        (("create", row("a")), "EntityAlreadyExists"),
        (("delete", row("absent")), "ResourceNotFound"),
    ],
)
async def test_refused_operations_carry_the_service_error_code_and_index(
    table: tuple[TableClient, RequestCounter],
    lean: bool,
    operation: tuple[object, ...],
    code: str,
) -> None:
    client, _ = table
    transactions = TableTransactions(client, lean=lean)
    await transactions.submit([("create", row("a"))])

    with pytest.raises(TransactionRejected) as caught:
        await transactions.submit([("create", row("new")), operation])

    assert (caught.value.error_code, caught.value.index) == (code, 1)


async def test_a_missing_table_is_a_rejection_of_the_whole_transaction(
    azurite: Azurite, lean: bool
) -> None:
    async with TableClient.from_connection_string(
        azurite.connection_string, table_name=f"none{uuid.uuid4().hex[:10]}"
    ) as client:
        with pytest.raises(TransactionRejected) as caught:
            await TableTransactions(client, lean=lean).submit([("create", row("a"))])

    assert caught.value.status_code == 404
    assert caught.value.error_code in {"TableNotFound", "ResourceNotFound"}


async def test_a_wrong_account_key_is_an_authentication_error(azurite: Azurite) -> None:
    wrong = azurite.connection_string.replace("AccountKey=", "AccountKey=AAAA")
    async with TableClient.from_connection_string(wrong, table_name="anytable") as client:
        with pytest.raises(ClientAuthenticationError):
            await TableTransactions(client).submit([("create", row("a"))])


def test_entity_json_writes_types_the_service_reads() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    text = entity_json({"A": "x", "B": None, "C": 3, "D": float("nan"), "E": naive})

    assert text == (
        '{"A":"x","C":3,"D":"NaN","D@odata.type":"Edm.Double",'
        '"E":"2026-01-02T03:04:05.000000Z","E@odata.type":"Edm.DateTime"}'
    )
    with pytest.raises(TypeError, match="cannot hold bytes"):
        entity_json({"A": b"x"})
    with pytest.raises(TypeError, match="Int32"):
        entity_json({"A": 2**31})
