"""OpenID Connect bearer tokens: ``Authorization: Bearer <JWT>`` signed by the issuer's
published keys (Microsoft Entra ID, or any OIDC provider), checked with pyjwt.

A token is accepted only if it is signed with one of the pinned public-key algorithms by a
key of the issuer's key set (:class:`SigningKeys`), is from ``issuer``, is for one of the
``audience`` s, has not expired (nor starts later), give or take ``leeway`` seconds, and
names its owner in ``owner_claim``. ``none`` and the HMAC algorithms (``HS256``...) are
never accepted: with a published key as the "secret", anyone could sign.

Roles come from the ``roles`` claim only (Entra ID puts app roles assigned to the user or
the calling application there). Delegated scopes (``scp``) are not roles: a scope says
what an application may do for its user, and a user may consent to scopes alone, so a
scope named like a role would let any user make themselves an operator. Point
``roles_claim`` elsewhere (``groups``) if your provider puts roles there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

import jwt
from jwt import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from ...errors import ConfigurationError, NotAuthenticated
from ._headers import authorization, display_name, lowered, owner_id
from .principal import Principal
from .roles import DEFAULT_ROLE_MAP, RoleMap, checked_role_map, mapped_roles
from .signing_keys import SigningKeys, checked_url

__all__ = ["BEARER", "DEFAULT_ALGORITHMS", "BearerTokens"]

#: The scheme's name.
BEARER: Final = "bearer"
#: The public-key algorithms accepted unless told otherwise.
DEFAULT_ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)
#: Every algorithm that may be chosen: public-key signatures only. Never ``none`` (no
#: signature) nor ``HS*`` (a shared secret: the published key would do as one).
_PUBLIC_KEY_ALGORITHMS: Final = frozenset({*DEFAULT_ALGORITHMS, "ES256K", "EdDSA"})
#: The largest token read; a bigger one is refused unread.
DEFAULT_MAX_TOKEN_BYTES: Final = 16 * 1024
#: Claims a token must have.
_REQUIRED: Final = ["exp", "iss", "aud"]
#: Claims a name to show is read from, in order.
_NAME_CLAIMS: Final = ("name", "preferred_username")


class BearerTokens:
    """Bearer JWTs of one issuer for this API (see the module's docstring).

    - ``issuer``: the ``iss`` tokens carry, exactly; for Entra ID
      ``https://login.microsoftonline.com/<tenant id>/v2.0``.
    - ``audience``: the ``aud`` (one, or several) a token must be for: the API's client
      id or application id URI (``api://...``).
    - ``keys``: where the signing keys come from; by default discovered from the issuer,
      or read from ``jwks_url`` (give one or the other).
    - ``owner_claim``: the claim that is the principal's id (``sub`` by default; for Entra
      ID use ``oid``, the user's object id, the same in every application).
    - ``roles_claim``, ``role_map``: the claim of role values and what they give.
    """

    scheme = BEARER
    challenge = 'Bearer realm="queued-jobs"'
    expects = "Authorization: Bearer <token>"

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Collection[str],
        keys: SigningKeys | None = None,
        jwks_url: str | None = None,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: float = 60.0,
        owner_claim: str = "sub",
        roles_claim: str = "roles",
        role_map: RoleMap = DEFAULT_ROLE_MAP,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    ) -> None:
        self.issuer = checked_url(issuer, "the token issuer")
        self.audiences = (audience,) if isinstance(audience, str) else tuple(audience)
        if not self.audiences or not all(isinstance(a, str) and a for a in self.audiences):
            raise ConfigurationError("bearer tokens need an audience: the API's client id or URI")
        if keys is not None and jwks_url is not None:
            raise ConfigurationError("give bearer tokens keys or a JWKS URL, not both")
        self.keys = keys or SigningKeys(self.issuer, jwks_url=jwks_url)
        self.algorithms = _pinned(algorithms)
        self.leeway = leeway
        self.owner_claim = owner_claim
        self.roles_claim = roles_claim
        self.role_map = checked_role_map(role_map)
        self.max_token_bytes = max_token_bytes

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The token's principal; ``None`` without ``Authorization: Bearer``."""
        token = authorization(lowered(headers), "bearer")
        if token is None:
            return None
        claims = await self.claims(token)
        owner = owner_id(claims.get(self.owner_claim), f"the token's {self.owner_claim} claim")
        roles = mapped_roles(_role_values(claims.get(self.roles_claim)), self.role_map)
        name = next((claims[c] for c in _NAME_CLAIMS if isinstance(claims.get(c), str)), None)
        return Principal(owner, roles, self.scheme, display_name(name))

    async def claims(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once it checks out; ``NotAuthenticated`` saying why not."""
        if not token:
            raise NotAuthenticated("Authorization: Bearer came without a token")
        if len(token) > self.max_token_bytes:
            raise NotAuthenticated(f"the bearer token is over {self.max_token_bytes:,} bytes")
        try:
            header = jwt.get_unverified_header(token) if token.isascii() else None
        except (PyJWTError, RecursionError):  # RecursionError: JSON nested too deep
            header = None
        if header is None:
            raise NotAuthenticated("the bearer token is not a JWT")
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise NotAuthenticated(
                "the bearer token is not signed with an algorithm this API accepts "
                f"({', '.join(self.algorithms)})"
            )
        key = await self.keys.key(header.get("kid"), algorithm)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audiences,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": _REQUIRED, "enforce_minimum_key_length": True},
            )
        except PyJWTError as exc:
            raise NotAuthenticated(_reason(exc)) from None
        except RecursionError:  # claims nested too deep for the JSON reader
            raise NotAuthenticated("the bearer token is not valid") from None


def _pinned(algorithms: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(algorithms)
    refused = [algorithm for algorithm in chosen if algorithm not in _PUBLIC_KEY_ALGORITHMS]
    if refused or not chosen:
        raise ConfigurationError(
            "bearer tokens are checked with public-key algorithms only "
            f"({', '.join(sorted(_PUBLIC_KEY_ALGORITHMS))}): "
            f"{', '.join(map(repr, refused)) or 'none given'} cannot be used"
        )
    return chosen


def _reason(error: PyJWTError) -> str:
    if isinstance(error, InvalidSignatureError):
        return "the bearer token's signature does not check out"
    if isinstance(error, ExpiredSignatureError):
        return "the bearer token has expired: get a new one"
    if isinstance(error, ImmatureSignatureError):
        return "the bearer token is not valid yet"
    if isinstance(error, InvalidAudienceError):
        return "the bearer token is for another audience, not this API"
    if isinstance(error, InvalidIssuerError):
        return "the bearer token is from another issuer"
    if isinstance(error, MissingRequiredClaimError):
        return f"the bearer token has no {error.claim} claim"
    return "the bearer token is not valid"


def _role_values(claim: object) -> list[str]:
    """A roles claim's values: a list of strings, or one string of space-separated values."""
    if isinstance(claim, str):
        return claim.split()
    if isinstance(claim, list):
        return [value for value in claim if isinstance(value, str)]
    return []
