"""Principals, roles and the authentication schemes of the web API: :class:`EasyAuth`
(App Service authentication), :class:`ApiKeys` (hashed keys)."""

from __future__ import annotations

from .api_keys import API_KEY_PREFIX, ApiKey, ApiKeys, hash_api_key, new_api_key
from .easy_auth import EasyAuth
from .principal import Authenticator, Principal, Role
from .roles import DEFAULT_ROLE_MAP, RoleMap

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_ROLE_MAP",
    "ApiKey",
    "ApiKeys",
    "Authenticator",
    "EasyAuth",
    "Principal",
    "Role",
    "RoleMap",
    "hash_api_key",
    "new_api_key",
]
