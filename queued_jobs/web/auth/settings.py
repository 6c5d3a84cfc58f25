"""The web API's :class:`Authentication` from app settings (environment variables), read
once, at the edge: :func:`authentication_from_settings`.

==================================  ==========================================================
``QUEUED_JOBS_WEB_AUTH``            the schemes, tried in this order: ``easy-auth``,
                                    ``bearer``, ``api-keys``, ``development`` (last, if at
                                    all); required: nothing is open by default
``QUEUED_JOBS_WEB_ROLE_MAP``        claim values to roles, a JSON object, for ``easy-auth``
                                    and ``bearer`` (default: the app roles
                                    ``queued-jobs.operator`` and ``queued-jobs.reader``)
``QUEUED_JOBS_EASY_AUTH_OWNER_CLAIM``  the claim that is the owner (default: the
                                    ``X-MS-CLIENT-PRINCIPAL-ID`` header)
``QUEUED_JOBS_EASY_AUTH_PROVIDERS``  the identity providers accepted, a comma list (``aad``)
``QUEUED_JOBS_JWT_ISSUER``          the tokens' issuer (required for ``bearer``)
``QUEUED_JOBS_JWT_AUDIENCE``        the audiences accepted, a comma list (required)
``QUEUED_JOBS_JWT_JWKS_URL``        the key set (default: found by discovery)
``QUEUED_JOBS_JWT_OWNER_CLAIM``     the claim that is the owner (default ``sub``; ``oid``
                                    for Entra ID)
``QUEUED_JOBS_JWT_ROLES_CLAIM``     the claim of role values (default ``roles``)
``QUEUED_JOBS_API_KEYS``            the API keys, a JSON list (for ``api-keys``)
``QUEUED_JOBS_API_KEYS_FILE``       a JSON file of API keys (with or instead of the above)
==================================  ==========================================================

``easy-auth`` is refused unless App Service says its authentication is on
(``WEBSITE_AUTH_ENABLED=True``): anywhere else anyone could send the headers it trusts.
``development`` is refused on App Service and Azure Functions in Azure
(``WEBSITE_INSTANCE_ID`` is set).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Final

from ...errors import ConfigurationError
from ...telemetry.logs import library_logger
from .api_keys import ApiKey, ApiKeys
from .chain import Authentication
from .development import DEVELOPMENT, DevelopmentAuth
from .easy_auth import EasyAuth
from .principal import Authenticator
from .roles import DEFAULT_ROLE_MAP, RoleMap, checked_role_map

__all__ = ["AUTH_SETTING", "authentication_from_settings"]

log = library_logger("queued_jobs.settings")

#: The setting naming the schemes.
AUTH_SETTING: Final = "QUEUED_JOBS_WEB_AUTH"
_ROLE_MAP: Final = "QUEUED_JOBS_WEB_ROLE_MAP"
_EASY_AUTH_OWNER_CLAIM: Final = "QUEUED_JOBS_EASY_AUTH_OWNER_CLAIM"
_EASY_AUTH_PROVIDERS: Final = "QUEUED_JOBS_EASY_AUTH_PROVIDERS"
_ISSUER: Final = "QUEUED_JOBS_JWT_ISSUER"
_AUDIENCE: Final = "QUEUED_JOBS_JWT_AUDIENCE"
_JWKS_URL: Final = "QUEUED_JOBS_JWT_JWKS_URL"
_OWNER_CLAIM: Final = "QUEUED_JOBS_JWT_OWNER_CLAIM"
_ROLES_CLAIM: Final = "QUEUED_JOBS_JWT_ROLES_CLAIM"
_API_KEYS: Final = "QUEUED_JOBS_API_KEYS"
_API_KEYS_FILE: Final = "QUEUED_JOBS_API_KEYS_FILE"
#: The settings each scheme reads, by the prefix they share (for typos and strays).
_SETTINGS: Final = {
    "easy-auth": ("QUEUED_JOBS_EASY_AUTH_", {_EASY_AUTH_OWNER_CLAIM, _EASY_AUTH_PROVIDERS}),
    "bearer": ("QUEUED_JOBS_JWT_", {_ISSUER, _AUDIENCE, _JWKS_URL, _OWNER_CLAIM, _ROLES_CLAIM}),
    "api-keys": ("QUEUED_JOBS_API_KEYS", {_API_KEYS, _API_KEYS_FILE}),
}
#: App Service sets it to ``True`` when its authentication is on.
_PLATFORM_AUTH: Final = "WEBSITE_AUTH_ENABLED"
#: Set on every App Service and Azure Functions instance in Azure (not by local tools).
_PLATFORM_INSTANCE: Final = "WEBSITE_INSTANCE_ID"


def authentication_from_settings(environ: Mapping[str, str] | None = None) -> Authentication:
    """The schemes ``QUEUED_JOBS_WEB_AUTH`` names, each from its settings (see the module's
    table; ``environ`` defaults to ``os.environ``). Settings that cannot work raise
    ``ConfigurationError`` saying which and why; settings of a scheme not named, and
    names that look like ours but are not, are warned about and ignored."""
    settings = os.environ if environ is None else environ
    names = [name.strip().lower() for name in settings.get(AUTH_SETTING, "").split(",")]
    names = [name for name in names if name]
    if not names:
        raise ConfigurationError(
            f"no authentication configured: set {AUTH_SETTING} to the schemes callers may "
            f"use, among {', '.join(_BUILDERS)} (for example {AUTH_SETTING}=bearer)"
        )
    unknown = [name for name in names if name not in _BUILDERS]
    if unknown:
        raise ConfigurationError(
            f"{AUTH_SETTING} names {', '.join(map(repr, unknown))}; the schemes are "
            f"{', '.join(_BUILDERS)}"
        )
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{AUTH_SETTING} names a scheme twice")
    _warn_about_strays(settings, names)
    return Authentication([_BUILDERS[name](settings) for name in names])


def _easy_auth(settings: Mapping[str, str]) -> Authenticator:
    if settings.get(_PLATFORM_AUTH, "").strip().lower() != "true":
        raise ConfigurationError(
            f"{AUTH_SETTING} names easy-auth, which trusts the X-MS-CLIENT-PRINCIPAL headers; "
            "only App Service authentication makes them trustworthy (it removes copies "
            f"clients send), and it is not on here ({_PLATFORM_AUTH} is not True). Turn "
            "authentication on in the App Service or Function App, or use bearer instead"
        )
    providers = _listed(settings.get(_EASY_AUTH_PROVIDERS))
    return EasyAuth(
        owner_claim=settings.get(_EASY_AUTH_OWNER_CLAIM, "").strip() or None,
        role_map=_role_map(settings),
        identity_providers=providers or None,
    )


def _bearer(settings: Mapping[str, str]) -> Authenticator:
    try:
        from .bearer import BearerTokens  # pyjwt: only when bearer tokens are used
    except ImportError as exc:
        raise ConfigurationError(
            f"{AUTH_SETTING} names bearer, which needs pyjwt: pip install 'queued-jobs[web]'"
        ) from exc

    issuer = settings.get(_ISSUER, "").strip()
    audiences = _listed(settings.get(_AUDIENCE))
    if not issuer or not audiences:
        raise ConfigurationError(
            f"{AUTH_SETTING} names bearer, which needs {_ISSUER} (for Entra ID "
            f"https://login.microsoftonline.com/<tenant id>/v2.0) and {_AUDIENCE} (the "
            "API's client id or application id URI)"
        )
    return BearerTokens(
        issuer=issuer,
        audience=audiences,
        jwks_url=settings.get(_JWKS_URL, "").strip() or None,
        owner_claim=settings.get(_OWNER_CLAIM, "").strip() or "sub",
        roles_claim=settings.get(_ROLES_CLAIM, "").strip() or "roles",
        role_map=_role_map(settings),
    )


def _api_keys(settings: Mapping[str, str]) -> Authenticator:
    text, path = settings.get(_API_KEYS, "").strip(), settings.get(_API_KEYS_FILE, "").strip()
    if not text and not path:
        raise ConfigurationError(
            f"{AUTH_SETTING} names api-keys, which needs {_API_KEYS} (a JSON list of keys) "
            f"or {_API_KEYS_FILE} (a JSON file of them); queued-jobs api-key new makes one"
        )
    keys: list[ApiKey] = []
    if text:
        keys.extend(ApiKeys.from_json(text, source=_API_KEYS).keys)
    if path:
        keys.extend(ApiKeys.from_file(path).keys)
    return ApiKeys(keys)


def _development(settings: Mapping[str, str]) -> Authenticator:
    if settings.get(_PLATFORM_INSTANCE):
        raise ConfigurationError(
            f"{AUTH_SETTING} names development, which trusts every request as whoever it "
            "says it is; it is refused on App Service and Azure Functions in Azure "
            f"({_PLATFORM_INSTANCE} is set): use easy-auth, bearer or api-keys there"
        )
    return DevelopmentAuth(DEVELOPMENT)


_BUILDERS: Final[dict[str, Callable[[Mapping[str, str]], Authenticator]]] = {
    "easy-auth": _easy_auth,
    "bearer": _bearer,
    "api-keys": _api_keys,
    DEVELOPMENT: _development,
}


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _role_map(settings: Mapping[str, str]) -> RoleMap:
    text = settings.get(_ROLE_MAP, "").strip()
    if not text:
        return DEFAULT_ROLE_MAP
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise ConfigurationError(
            f"{_ROLE_MAP} must be a JSON object of claim values and role names, such as "
            '{"queued-jobs.operator": "operator", "queued-jobs.reader": "reader"}'
        )
    return checked_role_map(parsed, source=_ROLE_MAP)


def _warn_about_strays(settings: Mapping[str, str], names: list[str]) -> None:
    for scheme, (prefix, known) in _SETTINGS.items():
        for name in sorted(n for n in settings if n.upper().startswith(prefix)):
            if name not in known:
                log.warning("the setting %s is not one queued-jobs reads: ignored", name)
            elif scheme not in names and settings[name].strip():
                log.warning(
                    "%s is set, but %s does not name %s: ignored", name, AUTH_SETTING, scheme
                )
