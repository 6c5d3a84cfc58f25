"""API keys for scripts and services: ``Authorization: ApiKey <key>`` or
``X-API-Key: <key>``.

A key is ``qj_`` and 43 random characters (256 bits, from ``secrets``); only its SHA-256
is stored, with the owner and roles it stands for. A plain hash is enough for a key that
random (nobody can guess one to hash); a leaked list of hashes lets nobody in. Make one
with ``queued-jobs api-key new --owner ...``, which prints the key once and the entry to
store::

    [{"hash": "sha256:<64 hex digits>", "owner": "nightly-export",
      "roles": ["operator"], "name": "export job"}]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ...errors import ConfigurationError, InvalidInput, NotAuthenticated
from ...models import check_owner
from ._headers import authorization, display_name, lowered
from .principal import Principal, Role
from .roles import role_named

__all__ = ["API_KEY", "API_KEY_PREFIX", "ApiKey", "ApiKeys", "hash_api_key", "new_api_key"]

#: The scheme's name.
API_KEY: Final = "api-key"
#: How every key starts, so that a leaked one is recognised (by secret scanners too).
API_KEY_PREFIX: Final = "qj_"
_HASH_PREFIX: Final = "sha256:"
_HEX: Final = frozenset("0123456789abcdef")
#: The longest key read: keys made here are 46 characters.
_KEY_LIMIT: Final = 256
_HEADER: Final = "x-api-key"
_ROLE_NAMES: Final = ", ".join(role.value for role in Role)


def hash_api_key(key: str) -> str:
    """What is stored of ``key``: ``sha256:`` and the hex digest of its UTF-8 bytes."""
    return _HASH_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: its hash, the owner it acts as, its roles (everyone is also a user),
    and a name to tell keys apart."""

    hash: str
    owner: str
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.USER}))
    name: str | None = None

    def __post_init__(self) -> None:
        digest = self.hash.removeprefix(_HASH_PREFIX)
        if not self.hash.startswith(_HASH_PREFIX) or len(digest) != 64 or not {*digest} <= _HEX:
            raise InvalidInput('an API key hash is "sha256:" and 64 lower-case hex digits')
        check_owner(self.owner)
        if self.name is not None and display_name(self.name) is None:
            raise InvalidInput("an API key's name is printable text of at most 256 characters")
        object.__setattr__(self, "roles", frozenset({Role.USER, *self.roles}))

    def to_json(self) -> dict[str, Any]:
        """The entry to store (in ``QUEUED_JOBS_API_KEYS`` or its file)."""
        roles = [role.value for role in Role if role in self.roles]
        return {"hash": self.hash, "owner": self.owner, "roles": roles, "name": self.name}

    @classmethod
    def from_json(cls, entry: Any) -> ApiKey:
        """The key stored as ``entry`` (as :meth:`to_json` writes it); ``InvalidInput``
        saying what is wrong."""
        if not isinstance(entry, dict):
            raise InvalidInput('not an object {"hash", "owner", "roles", "name"}')
        unknown = sorted(set(entry) - {"hash", "owner", "roles", "name"})
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r}")
        hash_, owner, names, name = (entry.get(k) for k in ("hash", "owner", "roles", "name"))
        if not isinstance(hash_, str) or not isinstance(owner, str):
            raise InvalidInput('"hash" and "owner" must be strings')
        if name is not None and not isinstance(name, str):
            raise InvalidInput('"name" must be a string or null')
        return cls(hash_, owner, _roles(["user"] if names is None else names), name)


def _roles(names: object) -> frozenset[Role]:
    if not isinstance(names, list):
        raise InvalidInput(f'"roles" must be a list of role names ({_ROLE_NAMES})')
    roles = [role_named(name) if isinstance(name, str) else None for name in names]
    if None in roles:
        raise InvalidInput(f'"roles" names a role that does not exist; use {_ROLE_NAMES}')
    return frozenset(role for role in roles if role is not None)


def new_api_key(
    owner: str, roles: Collection[Role] = frozenset({Role.USER}), name: str | None = None
) -> tuple[str, ApiKey]:
    """A new key and what to store of it; the key itself is shown once and kept nowhere."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, ApiKey(hash_api_key(key), owner, frozenset(roles), name)


class ApiKeys:
    """The keys in ``keys`` (see the module's docstring); an unknown key is refused, never
    passed over. Two entries with one hash are a ``ConfigurationError``."""

    scheme = API_KEY
    challenge = 'ApiKey realm="queued-jobs"'
    expects = "an API key (Authorization: ApiKey <key>, or X-API-Key: <key>)"

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys = tuple(keys)
        hashes = [key.hash for key in self.keys]
        if len(set(hashes)) != len(hashes):
            raise ConfigurationError("two API key entries have the same hash: remove one")

    @classmethod
    def from_json(cls, text: str, *, source: str = "the API keys") -> ApiKeys:
        """The keys of a JSON list of entries; ``ConfigurationError`` naming ``source`` and
        the entry that is malformed (counted from 1)."""
        try:
            entries = json.loads(text)
        except (ValueError, RecursionError):
            entries = None
        if not isinstance(entries, list):
            raise ConfigurationError(
                f'{source} must be a JSON list of {{"hash", "owner", "roles", "name"}} '
                "entries (queued-jobs api-key new prints one)"
            )
        keys = []
        for number, entry in enumerate(entries, start=1):
            try:
                keys.append(ApiKey.from_json(entry))
            except InvalidInput as exc:
                raise ConfigurationError(f"{source}: entry {number}: {exc}") from None
        return cls(keys)

    @classmethod
    def from_file(cls, path: str | Path) -> ApiKeys:
        """The keys of the JSON file ``path`` (see :meth:`from_json`)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"the API keys file {str(path)!r} cannot be read: {exc}"
            ) from None
        return cls.from_json(text, source=f"the API keys file {str(path)!r}")

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The key's owner; ``None`` if the request carries no API key."""
        by_name = lowered(headers)
        sent = {
            key.strip()
            for key in (authorization(by_name, "apikey"), by_name.get(_HEADER))
            if key is not None
        }
        if not sent:
            return None
        if len(sent) > 1:
            raise NotAuthenticated("the request carries two different API keys")
        found = self._find(sent.pop())
        if found is None:
            raise NotAuthenticated("the API key is not one of this API's keys")
        return Principal(found.owner, found.roles, self.scheme, display_name(found.name))

    def _find(self, key: str) -> ApiKey | None:
        if not key or len(key) > _KEY_LIMIT or not key.isascii():
            return None
        digest = hash_api_key(key).encode()
        found = None
        for stored in self.keys:  # every key compared, in constant time each
            if hmac.compare_digest(digest, stored.hash.encode()):
                found = stored
        return found
