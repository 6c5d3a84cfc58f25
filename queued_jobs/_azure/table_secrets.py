"""The store's secrets in the jobs table: one row each in the partition ``s``.

A secret is made by the first process that asks for it: it reads the row, and if there is
none inserts a new one; an insert that loses the race to another process reads theirs.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Final

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient

from ..errors import StorageError
from .errors import translated

__all__ = ["MESSAGE_KEY_ROW", "SECRETS_PARTITION", "stored_secret"]

SECRETS_PARTITION: Final = "s"
#: The key that signs the job snapshots in queue messages.
MESSAGE_KEY_ROW: Final = "message-key"
_SIZE: Final = 32


async def stored_secret(table: TableClient, name: str) -> bytes:
    """The secret ``name`` (32 random bytes), made now if the table has none yet."""
    with translated(f"reading the store's {name}"):
        try:
            return _value(await table.get_entity(SECRETS_PARTITION, name), name)
        except ResourceNotFoundError:
            pass
        new = secrets.token_bytes(_SIZE)
        row = {
            "PartitionKey": SECRETS_PARTITION,
            "RowKey": name,
            "Value": base64.b64encode(new).decode("ascii"),
        }
        try:
            await table.create_entity(row)
        except ResourceExistsError:  # another process made it first: theirs it is
            return _value(await table.get_entity(SECRETS_PARTITION, name), name)
        return new


def _value(entity: TableEntity, name: str) -> bytes:
    try:
        value = base64.b64decode(entity.get("Value", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        value = b""
    if len(value) < _SIZE:
        raise StorageError(
            f"the store's {name} (row {SECRETS_PARTITION!r}/{name!r} of the jobs table) is "
            "damaged; delete that row and the next process to start makes a new one"
        )
    return value
