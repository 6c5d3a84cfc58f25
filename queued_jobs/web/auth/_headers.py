"""Reading credentials from request headers, which anyone can write: any length, any
character. Whatever a header holds ends in a principal or in ``NotAuthenticated``, and no
error message repeats a header's value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ...errors import InvalidInput, NotAuthenticated
from ...models import check_owner

__all__ = ["CREDENTIAL_HEADERS", "authorization", "display_name", "lowered", "owner_id"]

#: The headers some scheme reads credentials from (lower case).
CREDENTIAL_HEADERS: Final = frozenset(
    {
        "authorization",
        "x-api-key",
        "x-ms-client-principal",
        "x-ms-client-principal-id",
        "x-ms-client-principal-idp",
        "x-ms-client-principal-name",
        "x-queued-jobs-roles",
        "x-queued-jobs-user",
    }
)
#: The longest display name kept (a longer one is dropped, not cut).
_NAME_LIMIT: Final = 256


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` by lower-case name.

    A credential header sent twice with different values is refused: which copy a proxy or
    framework would pick is anybody's guess, so neither is believed."""
    by_name: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower() if isinstance(name, str) else ""
        credential = key in CREDENTIAL_HEADERS
        if not isinstance(value, str):
            if credential:
                raise NotAuthenticated(f"the {name} header is not text")
            continue
        if credential and by_name.get(key, value) != value:
            raise NotAuthenticated(f"the request has two different {name} headers")
        by_name.setdefault(key, value)
    return by_name


def authorization(headers: Mapping[str, str], scheme: str) -> str | None:
    """The credentials of ``Authorization: <scheme> <credentials>`` (the scheme in any case,
    surrounding spaces dropped), ``""`` if the header names ``scheme`` but nothing follows,
    or ``None`` if the header is missing or names another scheme. ``headers`` are
    :func:`lowered`."""
    value = headers.get("authorization")
    if value is None:
        return None
    named, _, credentials = value.strip().partition(" ")
    if named.lower() != scheme.lower():
        return None
    return credentials.strip()


def owner_id(value: object, what: str) -> str:
    """``value`` if it can own jobs (see ``check_owner``), else ``NotAuthenticated`` saying
    why ``what`` (where the value came from) cannot be used; the value is not repeated."""
    if value is None:
        raise NotAuthenticated(f"{what} is missing")
    if not isinstance(value, str):
        raise NotAuthenticated(f"{what} is not text, so it cannot be a job owner")
    try:
        return check_owner(value)
    except InvalidInput as exc:
        raise NotAuthenticated(f"{what} cannot be a job owner: {exc}") from None


def display_name(value: object) -> str | None:
    """``value`` as a name to show, or ``None`` if it is no text a record could hold (empty,
    longer than 256 characters, control characters)."""
    if not isinstance(value, str) or len(value) > _NAME_LIMIT:
        return None
    try:
        return check_owner(value)  # the same rules: printable Unicode text, not empty
    except InvalidInput:
        return None
