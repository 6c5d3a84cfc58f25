"""Which :class:`Role` s a caller's claims give: a role map from claim values (Entra app
roles, group ids, an identity provider's role names) to roles, and role names read from
settings and headers.

Everyone authenticated is a :attr:`Role.USER`; a role map only adds roles. Claim values
the map does not name are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from ...errors import ConfigurationError
from .principal import Role

__all__ = ["DEFAULT_ROLE_MAP", "RoleMap", "checked_role_map", "mapped_roles", "role_named"]

#: Claim values (an Entra app role's *value*, a group's object id...) to the role each gives.
RoleMap = Mapping[str, Role]

#: The app roles to define on the API's app registration (Entra ID) for operators and
#: readers; anyone else signed in is a user.
DEFAULT_ROLE_MAP: Final[RoleMap] = MappingProxyType(
    {"queued-jobs.operator": Role.OPERATOR, "queued-jobs.reader": Role.READER}
)
_NAMES: Final = ", ".join(role.value for role in Role)


def role_named(name: str) -> Role | None:
    """The role called ``name`` (any case, spaces around it ignored), or ``None``."""
    word = name.strip().lower()
    return next((role for role in Role if role.value == word), None)


def mapped_roles(values: Iterable[str], role_map: RoleMap) -> frozenset[Role]:
    """:attr:`Role.USER` and the role of each of ``values`` that ``role_map`` names."""
    return frozenset({Role.USER, *(role_map[value] for value in values if value in role_map)})


def checked_role_map(role_map: Mapping[str, object], *, source: str = "the role map") -> RoleMap:
    """``role_map`` as a read-only :data:`RoleMap`; a key that is not a non-empty string or
    a value that names no role raises ``ConfigurationError`` naming ``source``."""
    checked: dict[str, Role] = {}
    for value, role in role_map.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{source}: claim values must be non-empty strings")
        named = role_named(role) if isinstance(role, str) else None  # a Role is a str too
        if named is None:
            raise ConfigurationError(
                f"{source}: {value!r} maps to {role!r}, which is not a role (use {_NAMES})"
            )
        checked[value] = named
    return MappingProxyType(checked)
