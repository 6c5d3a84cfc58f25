"""Development mode: every request is trusted to be who it says it is. For a laptop, never
for a server anyone else can reach.

A request names its user in ``X-Queued-Jobs-User`` (default ``developer``) and its roles
in ``X-Queued-Jobs-Roles`` (a comma list, default ``operator``); a request without them is
an operator. It is switched on only by name (``DevelopmentAuth("development")``, or
``QUEUED_JOBS_WEB_AUTH=development``), it logs a warning when built, and the app marks
every response with :data:`DEVELOPMENT_MODE_HEADER`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ...errors import ConfigurationError, InvalidInput, NotAuthenticated
from ...models import check_owner
from ...telemetry.logs import library_logger
from ._headers import lowered, owner_id
from .principal import Principal, Role
from .roles import role_named

__all__ = [
    "DEVELOPMENT",
    "DEVELOPMENT_MODE_HEADER",
    "DEVELOPMENT_MODE_VALUE",
    "ROLES_HEADER",
    "USER_HEADER",
    "DevelopmentAuth",
]

log = library_logger("queued_jobs.web.auth")

#: The word that switches development mode on.
DEVELOPMENT: Final = "development"
#: The header every response carries while development mode is on, and its value.
DEVELOPMENT_MODE_HEADER: Final = "X-Queued-Jobs-Development-Mode"
DEVELOPMENT_MODE_VALUE: Final = "on; requests are not authenticated"
#: The headers a request names its user and its roles in.
USER_HEADER: Final = "X-Queued-Jobs-User"
ROLES_HEADER: Final = "X-Queued-Jobs-Roles"
_NAMES: Final = ", ".join(role.value for role in Role)
#: The longest roles header read (every role, spaces and commas fit many times over).
_ROLES_LIMIT: Final = 256


class DevelopmentAuth:
    """Trusts ``X-Queued-Jobs-User`` and ``X-Queued-Jobs-Roles``: anyone who can reach the
    API is whoever they say, an operator unless they say otherwise.

    ``enabled`` must be the word ``"development"``: anything else (``True``, ``"yes"``) is a
    ``ConfigurationError``, so it cannot be switched on by a flag set for another reason.
    """

    scheme = DEVELOPMENT
    challenge = 'QueuedJobs-Development realm="queued-jobs"'
    expects = f"{USER_HEADER} and {ROLES_HEADER} (development mode)"

    def __init__(
        self,
        enabled: str,
        *,
        user: str = "developer",
        roles: frozenset[Role] = frozenset({Role.OPERATOR}),
    ) -> None:
        """``user`` and ``roles``: who a request is that names nobody."""
        if enabled != DEVELOPMENT:
            raise ConfigurationError(
                f"development mode trusts every request as whoever it says it is; it is "
                f'switched on only by its name: DevelopmentAuth("{DEVELOPMENT}"), not '
                f"DevelopmentAuth({enabled!r})"
            )
        try:
            self.user = check_owner(user)
        except InvalidInput as exc:
            raise ConfigurationError(f"the development user cannot own jobs: {exc}") from None
        self.roles = frozenset({Role.USER, *roles})
        log.warning(
            "development mode is on: every request is trusted as the user it names in %s "
            "(default %r, an operator); never expose this API to anyone else",
            USER_HEADER,
            self.user,
        )

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        """The user and roles the request names, or the defaults; never ``None``."""
        by_name = lowered(headers)
        user = by_name.get(USER_HEADER.lower())
        named = by_name.get(ROLES_HEADER.lower())
        roles = self.roles if named is None else _roles(named)
        if user is None:
            return Principal(self.user, roles, self.scheme, self.user)
        checked = owner_id(user.strip(), f"the {USER_HEADER} header")
        return Principal(checked, roles, self.scheme, checked)


def _roles(header: str) -> frozenset[Role]:
    if len(header) > _ROLES_LIMIT:
        raise NotAuthenticated(f"the {ROLES_HEADER} header is over {_ROLES_LIMIT} characters")
    roles = {Role.USER}
    for part in filter(None, (part.strip() for part in header.split(","))):
        role = role_named(part)
        if role is None:
            raise NotAuthenticated(
                f"the {ROLES_HEADER} header names a role that does not exist; use {_NAMES}"
            )
        roles.add(role)
    return frozenset(roles)
