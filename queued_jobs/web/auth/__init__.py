"""Principals, roles and the authentication schemes of the web API: :class:`EasyAuth`
(App Service authentication)."""

from __future__ import annotations

from .easy_auth import EasyAuth
from .principal import Authenticator, Principal, Role
from .roles import DEFAULT_ROLE_MAP, RoleMap

__all__ = [
    "DEFAULT_ROLE_MAP",
    "Authenticator",
    "EasyAuth",
    "Principal",
    "Role",
    "RoleMap",
]
