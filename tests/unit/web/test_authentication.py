"""The authentication chain: schemes tried in order, bad credentials never passed over, and
nothing open when no scheme is configured."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from starlette.datastructures import Headers

from queued_jobs.errors import ConfigurationError, NotAuthenticated
from queued_jobs.web.auth import (
    ApiKeys,
    Authentication,
    BearerTokens,
    DevelopmentAuth,
    EasyAuth,
    Principal,
    Role,
    new_api_key,
)
from tests.support.oidc import AUDIENCE, Issuer


class Recording:
    """An authenticator that answers as told and remembers being asked."""

    challenge = 'Recording realm="tests"'
    expects = "a recording"

    def __init__(self, scheme: str, answer: Principal | Exception | None) -> None:
        self.scheme = scheme
        self.answer = answer
        self.asked: list[Mapping[str, str]] = []

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        self.asked.append(headers)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def user(name: str, scheme: str = "recording") -> Principal:
    return Principal(name, frozenset({Role.USER}), scheme)


async def test_the_first_scheme_with_credentials_decides() -> None:
    none, ada, grace = (
        Recording("a", None),
        Recording("b", user("ada")),
        Recording("c", user("grace")),
    )

    principal = await Authentication([none, ada, grace]).principal({"X-Any": "1"})

    assert principal.id == "ada"
    assert len(none.asked) == 1
    assert grace.asked == []


async def test_bad_credentials_stop_the_chain() -> None:
    bad = Recording("a", NotAuthenticated("the bearer token has expired: get a new one"))
    later = Recording("b", user("ada"))

    with pytest.raises(NotAuthenticated, match="expired"):
        await Authentication([bad, later]).principal({})

    assert later.asked == []


async def test_a_request_without_credentials_is_told_what_to_send(issuer: Issuer) -> None:
    auth = Authentication(
        [
            BearerTokens(issuer=issuer.url, audience=AUDIENCE),
            ApiKeys([new_api_key("ada")[1]]),
        ]
    )

    with pytest.raises(NotAuthenticated) as refusal:
        await auth.principal({"Accept": "application/json"})

    assert str(refusal.value) == (
        "the request carries no credentials: send Authorization: Bearer <token> or an API key "
        "(Authorization: ApiKey <key>, or X-API-Key: <key>)"
    )
    assert auth.challenge == 'Bearer realm="queued-jobs", ApiKey realm="queued-jobs"'
    assert auth.schemes == ("bearer", "api-key")


async def test_a_principal_whose_id_no_job_could_have_is_refused() -> None:
    odd = Recording("odd", Principal("ada\x00", frozenset({Role.USER}), "odd"))

    with pytest.raises(NotAuthenticated, match="cannot be a job owner"):
        await Authentication([odd]).principal({})


def test_no_scheme_at_all_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no authentication scheme"):
        Authentication([])


def test_a_scheme_after_development_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="put development last"):
        Authentication([DevelopmentAuth("development"), EasyAuth()])


def test_the_chain_says_whether_development_mode_is_on() -> None:
    assert Authentication([EasyAuth(), DevelopmentAuth("development")]).development
    assert not Authentication([EasyAuth()]).development


async def test_headers_are_read_in_any_case_from_starlette_headers() -> None:
    key, stored = new_api_key("ada")
    raw = [(b"x-api-key", key.encode())]

    principal = await Authentication([ApiKeys([stored])]).principal(Headers(raw=raw))

    assert principal.id == "ada"


async def test_a_credential_header_sent_twice_with_different_values_is_refused() -> None:
    key, stored = new_api_key("ada")
    raw = [(b"authorization", f"ApiKey {key}".encode()), (b"authorization", b"Bearer x.y.z")]

    with pytest.raises(NotAuthenticated, match="two different authorization headers"):
        await Authentication([ApiKeys([stored])]).principal(Headers(raw=raw))


async def test_a_credential_header_sent_twice_alike_is_read_once() -> None:
    key, stored = new_api_key("ada")
    raw = [(b"x-api-key", key.encode())] * 2

    assert (await Authentication([ApiKeys([stored])]).principal(Headers(raw=raw))).id == "ada"
