"""How far a unique key reaches (:class:`UniqueScope`), and the key a job reserves for it.

A key is its owner's by default: owner A's ``"export"`` and owner B's ``"export"`` are two
keys. A global key is one key for every owner. Stores hold reservations under one string,
so the owner is composed into it here, above them::

    global              <key>                         (what every version reserved before)
    owner               owner|<hash of owner>|<key>

The owner goes in as a hash (128 bits of BLAKE2b): of fixed length whatever the owner, and
no owner's name in the reservations. A global key may not begin with ``owner|``, so no
global key is ever one owner's key (:func:`check_unique_key`).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Final

from ..errors import InvalidInput

__all__ = ["OWNER_KEY_PREFIX", "UniqueScope", "check_unique_key", "unique_reservation"]

#: Reservations of per-owner keys begin with this; a global key may not.
OWNER_KEY_PREFIX: Final = "owner|"


class UniqueScope(StrEnum):
    """Whose jobs a unique key keeps apart."""

    OWNER = "owner"  # the owner's own jobs: another owner's job with the same key is free
    GLOBAL = "global"  # every owner's jobs: one job at a time holds the key


def unique_reservation(owner: str, key: str, scope: UniqueScope) -> str:
    """The string a job of ``owner`` reserves for ``key`` in ``scope``."""
    if scope is UniqueScope.GLOBAL:
        return key
    digest = hashlib.blake2b(owner.encode("utf-8", "surrogatepass"), digest_size=16)
    return f"{OWNER_KEY_PREFIX}{digest.hexdigest()}|{key}"


def check_unique_key(key: str, scope: UniqueScope) -> None:
    """Refuse (``InvalidInput``) a global key that could be taken for one owner's key."""
    if scope is UniqueScope.GLOBAL and key.startswith(OWNER_KEY_PREFIX):
        raise InvalidInput(
            f"a global unique key may not begin with {OWNER_KEY_PREFIX!r} (that is how keys "
            f"kept per owner are stored): {key[:40]!r}; choose another key"
        )
