"""Entity-group transactions, written and read without the SDK's e-mail machinery.

``TableClient.submit_transaction`` builds the ``multipart/mixed`` body with the standard
library's ``email`` package (and a freshly compiled regular expression per boundary) and
parses the answer the same way: about 5 ms of CPU per transaction, more than the rest of a
job's work together. Here the body is plain string formatting and the answer is read with
one precompiled pattern; the request still goes through the table client's own pipeline
(authentication, retries, ``raw_request_hook``, logging) and the wire format is the one
the service documents (Performing entity group transactions) and the SDK sends.

Operations use the SDK's tuple form, so the SDK's own path remains a drop-in fallback:
``("create", entity)``, ``("upsert", entity, {"mode": UpdateMode.REPLACE})``,
``("update", entity, {"mode": UpdateMode.REPLACE, "etag": ..., "match_condition": ...})``,
``("delete", entity)``.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from ..models import QueuedJob
from .errors import error_code

__all__ = [
    "BATCH_LIMIT",
    "ROW_FRAMING",
    "NewJob",
    "TableTransactions",
    "TransactionRejected",
    "transactions_of",
]

Operation = tuple[Any, ...]

_INT32: Final = range(-(2**31), 2**31)
#: One sub-response: its status, its headers and its body (up to the next boundary).
_PART: Final = re.compile(
    rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n(.*?)(?=\r\n--|\Z)", re.DOTALL
)
_XML_ERROR: Final = re.compile(rb"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", re.DOTALL)
_ETAG: Final = re.compile(rb"^etag:[ \t]*(.*?)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_SUB_HEADERS: Final = (
    "Content-Type: application/json\r\n"
    "Accept: application/json;odata=nometadata\r\n"
    "DataServiceVersion: 3.0\r\n"
)


class TransactionRejected(HttpResponseError):
    """The service refused a transaction; ``index`` is the operation it named (else 0)."""

    def __init__(self, message: str, *, status: int, code: str, index: int) -> None:
        super().__init__(message=message)
        self.status_code = status
        self.error_code = code
        self.index = index


def _value(value: Any) -> tuple[Any, str | None]:
    """A property's JSON value and its Edm type annotation (``None``: implied by JSON)."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        if value not in _INT32:
            raise TypeError(f"{value} does not fit a table Int32 property")
        return value, None
    if isinstance(value, float):
        if math.isfinite(value):
            return value, "Edm.Double"
        return ("NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"), (
            "Edm.Double"
        )
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "Edm.DateTime"
    raise TypeError(f"a table property cannot hold {type(value).__name__}")


def entity_json(entity: Mapping[str, Any]) -> str:
    """An entity as the service reads it (``None`` properties left out)."""
    body: dict[str, Any] = {}
    for name, raw in entity.items():
        if raw is None:
            continue
        value, edm = _value(raw)
        body[name] = value
        if edm is not None:
            body[name + "@odata.type"] = edm
    return json.dumps(body, separators=(",", ":"))


def _key(value: str) -> str:
    return quote(value.replace("'", "''"), safe="")


class TableTransactions:
    """Submits entity-group transactions for one table client."""

    def __init__(self, table: TableClient, *, lean: bool = True) -> None:
        self._table = table
        # The client's generated service client runs our request through its pipeline;
        # without it (another SDK layout) the SDK's own transactions are used.
        service = getattr(table, "_client", None)
        self._send = getattr(service, "send_request", None) if lean else None
        account = table.url.split("?", 1)[0].rstrip("/")
        self._batch_url = f"{account}/$batch"
        self._table_url = f"{account}/{table.table_name}"

    async def submit(self, operations: Sequence[Operation]) -> list[str]:
        """Run ``operations`` all or nothing; returns each one's new ETag (``""`` for a
        delete). Raises :class:`TransactionRejected` naming the operation refused."""
        if self._send is None:
            return await self._submit_with_sdk(operations)
        batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
        request = HttpRequest(
            "POST",
            self._batch_url,
            headers={
                "x-ms-version": self._table.api_version,
                "DataServiceVersion": "3.0",
                "MaxDataServiceVersion": "3.0;NetFx",
                "Content-Type": f"multipart/mixed; boundary={batch}",
                "Accept": "application/json",
            },
            content=self._body(operations, batch, changeset),
        )
        response = await self._send(request, stream=True)
        body: bytes = await response.read()
        if response.status_code != 202:
            raise _rejected(response.status_code, body, whole=True)
        parts = _PART.findall(body)
        for status, _, content in parts:
            if not 200 <= int(status) < 300:
                raise _rejected(int(status), content, whole=False)
        if len(parts) != len(operations):
            raise TransactionRejected(
                f"the service answered {len(parts)} of {len(operations)} operations",
                status=response.status_code,
                code="UnexpectedResponse",
                index=0,
            )
        return [_etag(headers) for _, headers, _ in parts]

    async def delete(self, partition: str, row_keys: Sequence[str]) -> None:
        """Delete the rows ``row_keys`` of ``partition``, in their order: one transaction
        per :data:`BATCH_LIMIT` (Azurite answers a larger one with a malformed reply).
        Rows already gone are no error (a transaction that meets one deletes its rows one
        by one instead)."""
        for start in range(0, len(row_keys), BATCH_LIMIT):
            chunk = row_keys[start : start + BATCH_LIMIT]
            operations = [("delete", {"PartitionKey": partition, "RowKey": k}) for k in chunk]
            try:
                await self.submit(operations)
            except TransactionRejected as exc:
                if error_code(exc) != "ResourceNotFound":
                    raise
                for key in chunk:  # the SDK's delete of a missing row does nothing
                    await self._table.delete_entity(partition, key)

    def _body(self, operations: Sequence[Operation], batch: str, changeset: str) -> bytes:
        out = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"]
        for index, operation in enumerate(operations):
            method, url, headers, entity = self._request(operation)
            out.append(
                f"--{changeset}\r\nContent-Type: application/http\r\n"
                f"Content-Transfer-Encoding: binary\r\nContent-ID: {index}\r\n\r\n"
                f"{method} {url} HTTP/1.1\r\n{_SUB_HEADERS}{headers}\r\n{entity}\r\n"
            )
        out.append(f"--{changeset}--\r\n--{batch}--\r\n")
        return "".join(out).encode()

    def _request(self, operation: Operation) -> tuple[str, str, str, str]:
        kind, entity = operation[0], operation[1]
        options: Mapping[str, Any] = operation[2] if len(operation) > 2 else {}
        address = (
            f"{self._table_url}(PartitionKey='{_key(entity['PartitionKey'])}',"
            f"RowKey='{_key(entity['RowKey'])}')"
        )
        if kind == "create":
            return "POST", self._table_url, "Prefer: return-no-content\r\n", entity_json(entity)
        if kind == "delete":
            return "DELETE", address, f"If-Match: {options.get('etag') or '*'}\r\n", ""
        merge = options.get("mode", UpdateMode.MERGE) is UpdateMode.MERGE
        method = "MERGE" if merge else "PUT"
        if kind == "upsert":
            return method, address, "", entity_json(entity)
        if kind == "update":
            guarded = options.get("match_condition") is MatchConditions.IfNotModified
            etag = options["etag"] if guarded else "*"
            return method, address, f"If-Match: {etag}\r\n", entity_json(entity)
        raise ValueError(f"unknown transaction operation {kind!r}")

    async def _submit_with_sdk(self, operations: Sequence[Operation]) -> list[str]:
        try:
            results = await self._table.submit_transaction(list(operations))
        except TableTransactionError as exc:
            raise TransactionRejected(
                exc.message, status=exc.status_code or 0, code=error_code(exc), index=exc.index
            ) from exc
        return [str(result.get("etag") or "") for result in results]


def _etag(headers: bytes) -> str:
    found = _ETAG.search(headers)
    return found.group(1).decode() if found else ""


def _rejected(status: int, body: bytes, *, whole: bool) -> HttpResponseError:
    """The error a refused transaction (``whole``) or operation answered with."""
    code, message = "", body.decode(errors="replace").strip()
    try:
        details = json.loads(body)["odata.error"]
        code, message = str(details.get("code") or ""), str(details["message"]["value"])
    except (ValueError, KeyError, TypeError):
        if found := _XML_ERROR.search(body):  # errors before the table service parses JSON
            code, message = (part.decode(errors="replace").strip() for part in found.groups())
    prefix, colon, _ = message.partition(":")
    index = int(prefix) if colon and not whole and prefix.isdigit() else 0
    text = f"{status} {code}: {message}" if code else f"{status}: {message}"
    if status in (401, 403) and code.startswith(("Authentication", "Authorization")):
        refused = ClientAuthenticationError(message=text)
        refused.status_code = status
        return refused
    return TransactionRejected(text, status=status, code=code, index=index)


BATCH_LIMIT = 100
#: Largest transaction body sent. Azure (and Azurite) refuse one over 4 MiB with 413, but
#: aiohttp writes a body over 1 MiB in one go and warns (ResourceWarning) that it may block
#: the event loop; rows are rarely that large, so stay under it.
_TRANSACTION_BYTES = 1024 * 1024
#: A row's size in a transaction body beyond its JSON (multipart framing, type
#: annotations): about 700 bytes measured on Azurite.
ROW_FRAMING = 1024


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job ready to insert: the ``create`` operations of its rows (its own row first)
    and its payload blobs."""

    job: QueuedJob
    operations: list[Any]
    blobs: dict[str, bytes]
    #: What its rows add to a transaction body, in bytes (at most; as ASCII-only JSON).
    size: int

    @property
    def partition(self) -> str:
        partition: str = self.operations[0][1]["PartitionKey"]
        return partition


def transactions_of(new_jobs: Sequence[NewJob]) -> list[list[NewJob]]:
    """Group new jobs into entity-group transactions: one partition each, in the given
    order, at most :data:`BATCH_LIMIT` rows and :data:`_TRANSACTION_BYTES` (a job larger
    than that goes alone)."""
    by_partition: dict[str, list[list[NewJob]]] = {}
    for new in new_jobs:
        chunks = by_partition.setdefault(new.partition, [[]])
        if chunks[-1] and (
            sum(len(n.operations) for n in chunks[-1]) + len(new.operations) > BATCH_LIMIT
            or sum(n.size for n in chunks[-1]) + new.size > _TRANSACTION_BYTES
        ):
            chunks.append([])
        chunks[-1].append(new)
    return [chunk for chunks in by_partition.values() for chunk in chunks]
