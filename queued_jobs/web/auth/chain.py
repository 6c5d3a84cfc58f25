"""The one object the web API asks who is calling: :class:`Authentication`, the configured
schemes tried in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...errors import ConfigurationError, NotAuthenticated
from ._headers import lowered, owner_id
from .development import DevelopmentAuth
from .principal import Authenticator, Principal

__all__ = ["Authentication"]


class Authentication:
    """The schemes a request may authenticate with, tried in order.

    The first scheme that finds its credentials in the request decides: a principal, or
    ``NotAuthenticated`` if those credentials do not check out (a bad credential is never
    passed over for the next scheme to accept something else). A request with credentials
    of no scheme is refused too. There is no anonymous access: an empty list is a
    ``ConfigurationError``, and so is a scheme after :class:`DevelopmentAuth` (which answers
    every request, so nothing after it would be asked).
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = tuple(authenticators)
        if not self.authenticators:
            raise ConfigurationError(
                "no authentication scheme given: the web API refuses every request without "
                "one (use EasyAuth, BearerTokens, ApiKeys, or DevelopmentAuth on a laptop)"
            )
        for earlier, later in zip(self.authenticators, self.authenticators[1:], strict=False):
            if isinstance(earlier, DevelopmentAuth):
                raise ConfigurationError(
                    f"the development scheme answers every request, so {later.scheme!r} "
                    "after it would never be asked: put development last"
                )

    @property
    def schemes(self) -> tuple[str, ...]:
        """The schemes' names, in the order they are tried."""
        return tuple(authenticator.scheme for authenticator in self.authenticators)

    @property
    def development(self) -> bool:
        """Whether the development scheme is on: every response should say so (see
        :data:`DEVELOPMENT_MODE_HEADER`)."""
        return any(isinstance(a, DevelopmentAuth) for a in self.authenticators)

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value to send with a 401: each scheme's challenge,
        once, in order."""
        return ", ".join(dict.fromkeys(a.challenge for a in self.authenticators))

    @property
    def expects(self) -> str:
        """What a caller may send, as a phrase (``Authorization: Bearer <token> or ...``)."""
        phrases = list(dict.fromkeys(a.expects for a in self.authenticators))
        if len(phrases) == 1:
            return phrases[0]
        return f"{', '.join(phrases[:-1])} or {phrases[-1]}"

    async def principal(self, headers: Mapping[str, str]) -> Principal:
        """Who the request's ``headers`` (any case) prove the caller is; raises
        ``NotAuthenticated`` if no scheme finds credentials, or if the first that does
        refuses them (``AuthenticationUnavailable`` if they could not be checked now)."""
        by_name = lowered(headers)
        for authenticator in self.authenticators:
            principal = await authenticator.authenticate(by_name)
            if principal is not None:
                owner_id(principal.id, f"the {principal.scheme} principal's id")
                return principal
        raise NotAuthenticated(f"the request carries no credentials: send {self.expects}")
