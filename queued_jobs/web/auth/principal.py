"""Who is calling: :class:`Principal`, their :class:`Role` s, and the :class:`Authenticator`
protocol every authentication scheme implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["Authenticator", "Principal", "Role"]


class Role(StrEnum):
    """What a caller may see and do."""

    USER = "user"  # their own jobs only; anyone else's job does not exist for them (404)
    READER = "reader"  # sees every job; changes nothing
    OPERATOR = "operator"  # sees and acts on every job


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    ``id`` is the owner of the jobs the caller starts and the owner whose jobs an end user
    sees: a stable id (an Entra object id, a token's subject), never a display name.
    """

    id: str
    roles: frozenset[Role]
    #: The scheme that authenticated the call (``easy-auth``, ``bearer``, ``api-key``,
    #: ``development``).
    scheme: str
    #: A name to show, if the scheme gives one.
    name: str | None = None

    @property
    def sees_all(self) -> bool:
        """Whether every owner's jobs are visible to the caller (operators and readers)."""
        return Role.OPERATOR in self.roles or Role.READER in self.roles

    @property
    def acts_on_all(self) -> bool:
        """Whether the caller may change every owner's jobs (operators)."""
        return Role.OPERATOR in self.roles


class Authenticator(Protocol):
    """One authentication scheme."""

    #: The scheme's name, as :attr:`Principal.scheme` says it.
    scheme: str
    #: The ``WWW-Authenticate`` challenge a 401 answer names the scheme by
    #: (``Bearer realm="queued-jobs"``).
    challenge: str
    #: What a caller sends, as a phrase the error for a request without credentials lists
    #: (``Authorization: Bearer <token>``).
    expects: str

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The caller the request's headers (case-insensitive) prove, or ``None`` if they
        carry no credentials of this scheme. Raises ``NotAuthenticated`` for credentials of
        this scheme that do not check out."""
        ...
