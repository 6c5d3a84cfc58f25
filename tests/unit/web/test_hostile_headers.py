"""Whatever a header holds (any length, control characters, quotes, lone surrogates, JSON
nested deep), every scheme answers with a principal, ``None`` or ``NotAuthenticated``:
never another exception, so never a 500."""

from __future__ import annotations

import base64
from collections.abc import Awaitable

import pytest

from queued_jobs.errors import NotAuthenticated
from queued_jobs.web.auth import (
    ApiKeys,
    Authentication,
    BearerTokens,
    DevelopmentAuth,
    EasyAuth,
    new_api_key,
)
from tests.support.oidc import AUDIENCE, Issuer, unsigned_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HOSTILE = [
    "",
    " ",
    "\x00",
    "\t\r\n",
    "\x1b[2J\x1b[31mred",
    "\u202egnp.exe",
    "é" * 10,
    "\ud800",
    '"quoted"',
    "'; DROP TABLE jobs; --",
    "a" * 100_000,
    "Bearer",
    "Bearer ",
    "Bearer \x00",
    "Bearer " + "a" * 100_000,
    "Bearer a.b.c",
    "Bearer é.é.é",
    "Bearer " + _b64(b"[" * 3000) + ".e30.",
    "Bearer " + _b64(b'{"alg":"RS256","kid":7}') + ".e30.",
    "Bearer " + _b64(b'{"alg":"RS256","kid":"rsa-0"}') + "." + _b64(b"[" * 3000) + ".c2ln",
    "Bearer " + unsigned_token({"alg": "RS256", "kid": "rsa-0"}, {"exp": "soon"}),
    "Bearer " + unsigned_token({"alg": ["RS256"]}, {}),
    "ApiKey",
    "ApiKey qj_\x00",
    "ApiKey " + "qj_" * 10_000,
    base64.b64encode(b"[" * 10_000).decode(),
    base64.b64encode(b'{"claims": [{"typ": "roles", "val": null}]}').decode(),
    base64.b64encode(b'{"claims": [], "auth_typ": []}').decode(),
]
HEADERS = [
    "Authorization",
    "X-API-Key",
    "X-MS-CLIENT-PRINCIPAL",
    "X-MS-CLIENT-PRINCIPAL-ID",
    "X-Queued-Jobs-User",
    "X-Queued-Jobs-Roles",
]


@pytest.fixture
def authentication(issuer: Issuer) -> Authentication:
    """Every scheme in one chain (development last, as it answers every request)."""
    return Authentication(
        [
            EasyAuth(),
            BearerTokens(issuer=issuer.url, audience=AUDIENCE),
            ApiKeys([new_api_key("ada")[1]]),
            DevelopmentAuth("development"),
        ]
    )


async def refusal(answer: Awaitable[object]) -> str | None:
    """The message of the ``NotAuthenticated`` that ``answer`` raises, ``None`` if none;
    any other exception fails the test."""
    try:
        await answer
    except NotAuthenticated as refused:
        return str(refused)
    return None


def short_and_printable(message: str | None) -> bool:
    """A message fit for a response: it repeats no header of any length or character."""
    return message is None or (len(message) < 400 and message.isprintable())


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
async def test_a_hostile_header_is_refused_or_ignored_never_an_error(
    authentication: Authentication, header: str, value: str
) -> None:
    for authenticator in authentication.authenticators:
        assert short_and_printable(await refusal(authenticator.authenticate({header: value})))
    assert short_and_printable(await refusal(authentication.principal({header: value})))
