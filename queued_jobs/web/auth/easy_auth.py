"""App Service and Azure Functions authentication ("Easy Auth"): the platform signs the
caller in and hands the app who they are in ``X-MS-CLIENT-PRINCIPAL`` headers.

.. warning::

   These headers are proof of nothing by themselves: anyone can send them. They can be
   trusted only behind App Service authentication, which removes every copy a client sent
   before it adds its own. Switch :class:`EasyAuth` on only in an App Service or Function
   App with authentication enabled; anywhere else (a container, a VM, a laptop, a proxy in
   front of the app) it would let any caller be anyone. ``authentication_from_settings``
   refuses it unless the platform says authentication is on (``WEBSITE_AUTH_ENABLED``).

``X-MS-CLIENT-PRINCIPAL`` is base64 of a JSON document::

    {"auth_typ": "aad", "name_typ": "...", "role_typ": "roles",
     "claims": [{"typ": "roles", "val": "queued-jobs.operator"}, ...]}

and ``X-MS-CLIENT-PRINCIPAL-ID``, ``-NAME`` and ``-IDP`` give the id, name and identity
provider the platform chose.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ...errors import NotAuthenticated
from ._headers import display_name, lowered, owner_id
from .principal import Principal
from .roles import DEFAULT_ROLE_MAP, RoleMap, checked_role_map, mapped_roles

__all__ = ["EASY_AUTH", "PRINCIPAL_HEADER", "EasyAuth"]

#: The scheme's name.
EASY_AUTH: Final = "easy-auth"
PRINCIPAL_HEADER: Final = "X-MS-CLIENT-PRINCIPAL"
_ID_HEADER: Final = "x-ms-client-principal-id"
_NAME_HEADER: Final = "x-ms-client-principal-name"
_IDP_HEADER: Final = "x-ms-client-principal-idp"
#: The largest ``X-MS-CLIENT-PRINCIPAL`` read (base64 text); a bigger one is refused unread.
DEFAULT_MAX_PRINCIPAL_BYTES: Final = 16 * 1024
#: Where roles are when the principal names no ``role_typ``, and where Entra puts app roles.
_ROLES_CLAIM: Final = "roles"
#: Where the name is when the principal names no ``name_typ``.
_NAME_CLAIM: Final = "name"


@dataclass(frozen=True, slots=True)
class _Claims:
    """What a client principal says: its claims by type, and which types are roles and
    names."""

    provider: str | None
    role_type: str
    name_type: str | None
    claims: tuple[tuple[str, str], ...]

    def first(self, claim_type: str) -> str | None:
        return next((value for typ, value in self.claims if typ == claim_type), None)

    def all(self, *claim_types: str) -> list[str]:
        return [value for typ, value in self.claims if typ in claim_types]


class EasyAuth:
    """The caller App Service authentication signed in (read the module's warning).

    - ``owner_claim``: the claim type whose value is the principal's id (for Entra ID,
      ``http://schemas.microsoft.com/identity/claims/objectidentifier``, the object id);
      by default the ``X-MS-CLIENT-PRINCIPAL-ID`` header, which is that object id for Entra.
    - ``role_map``: the role claims' values (the principal's ``role_typ`` and ``roles``) to
      roles; everyone signed in is also a user.
    - ``identity_providers``: the only providers accepted (``X-MS-CLIENT-PRINCIPAL-IDP``,
      such as ``aad``); by default any the app is set up with. With several providers, ids
      of two providers' users could be alike: prefer one provider.
    """

    scheme = EASY_AUTH
    # A client answers with an Entra token, which App Service checks before the app sees it.
    challenge = 'Bearer realm="queued-jobs"'
    expects = "App Service sign-in (X-MS-CLIENT-PRINCIPAL)"

    def __init__(
        self,
        *,
        owner_claim: str | None = None,
        role_map: RoleMap = DEFAULT_ROLE_MAP,
        identity_providers: Collection[str] | None = None,
        max_principal_bytes: int = DEFAULT_MAX_PRINCIPAL_BYTES,
    ) -> None:
        self.owner_claim = owner_claim
        self.role_map = checked_role_map(role_map)
        if isinstance(identity_providers, str):  # one provider, not its letters
            identity_providers = [identity_providers]
        self.identity_providers = (
            None if identity_providers is None else frozenset(p.lower() for p in identity_providers)
        )
        self.max_principal_bytes = max_principal_bytes

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The signed-in caller, ``None`` if no ``X-MS-CLIENT-PRINCIPAL`` headers came."""
        by_name = lowered(headers)
        encoded = by_name.get(PRINCIPAL_HEADER.lower())
        if encoded is None:
            if _ID_HEADER in by_name:
                raise NotAuthenticated(
                    f"{_ID_HEADER.upper()} came without {PRINCIPAL_HEADER}: App Service "
                    "authentication sends both"
                )
            return None
        claims = self._claims(encoded)
        provider = by_name.get(_IDP_HEADER) or claims.provider
        if self.identity_providers is not None and (
            provider is None or provider.lower() not in self.identity_providers
        ):
            raise NotAuthenticated("the caller signed in with an identity provider not accepted")
        if self.owner_claim is None:
            principal_id = owner_id(by_name.get(_ID_HEADER), f"the {_ID_HEADER.upper()} header")
        else:
            principal_id = owner_id(
                claims.first(self.owner_claim), f"the principal's {self.owner_claim} claim"
            )
        roles = mapped_roles(claims.all(claims.role_type, _ROLES_CLAIM), self.role_map)
        name = by_name.get(_NAME_HEADER) or claims.first(claims.name_type or _NAME_CLAIM)
        return Principal(principal_id, roles, self.scheme, display_name(name))

    def _claims(self, encoded: str) -> _Claims:
        if len(encoded) > self.max_principal_bytes:
            raise NotAuthenticated(
                f"{PRINCIPAL_HEADER} is over {self.max_principal_bytes:,} bytes: not read"
            )
        try:
            document = json.loads(base64.b64decode(encoded.strip(), validate=True))
        except (binascii.Error, ValueError, RecursionError):  # not ASCII, base64, UTF-8, JSON
            raise NotAuthenticated(f"{PRINCIPAL_HEADER} is not base64 of a JSON document") from None
        claims = _claims_of(document)
        if claims is None:
            raise NotAuthenticated(
                f"{PRINCIPAL_HEADER} is not a client principal: an object with claims, each "
                'a {"typ": ..., "val": ...} of strings'
            )
        return claims


def _claims_of(document: Any) -> _Claims | None:
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        return None
    provider, role_type, name_type = (document.get(k) for k in ("auth_typ", "role_typ", "name_typ"))
    if not all(v is None or isinstance(v, str) for v in (provider, role_type, name_type)):
        return None
    pairs = []
    for claim in document["claims"]:
        if not isinstance(claim, dict):
            return None
        typ, val = claim.get("typ"), claim.get("val")
        if not isinstance(typ, str) or not isinstance(val, str):
            return None
        pairs.append((typ, val))
    return _Claims(provider, role_type or _ROLES_CLAIM, name_type, tuple(pairs))
