"""Principals, roles and the authentication schemes of the web API.

The web API asks one :class:`Authentication` who is calling; it tries its schemes in
order: :class:`EasyAuth` (App Service authentication), :class:`BearerTokens` (OIDC JWTs,
Microsoft Entra ID), :class:`ApiKeys` (hashed keys), :class:`DevelopmentAuth` (a laptop
only). :func:`authentication_from_settings` builds it from app settings.

``BearerTokens`` and ``SigningKeys`` need pyjwt (the ``web`` extra) and are imported when
first named, so the rest (API keys for the command line, say) works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api_keys import API_KEY_PREFIX, ApiKey, ApiKeys, hash_api_key, new_api_key
from .chain import Authentication
from .development import DEVELOPMENT_MODE_HEADER, DEVELOPMENT_MODE_VALUE, DevelopmentAuth
from .easy_auth import EasyAuth
from .principal import Authenticator, Principal, Role
from .roles import DEFAULT_ROLE_MAP, RoleMap
from .settings import authentication_from_settings

if TYPE_CHECKING:
    from .bearer import BearerTokens
    from .signing_keys import SigningKeys

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_ROLE_MAP",
    "DEVELOPMENT_MODE_HEADER",
    "DEVELOPMENT_MODE_VALUE",
    "ApiKey",
    "ApiKeys",
    "Authentication",
    "Authenticator",
    "BearerTokens",
    "DevelopmentAuth",
    "EasyAuth",
    "Principal",
    "Role",
    "RoleMap",
    "SigningKeys",
    "authentication_from_settings",
    "hash_api_key",
    "new_api_key",
]


def __getattr__(name: str) -> Any:
    if name == "BearerTokens":
        from .bearer import BearerTokens

        return BearerTokens
    if name == "SigningKeys":
        from .signing_keys import SigningKeys

        return SigningKeys
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
