"""Fetching an issuer's signing keys: discovery, a bounded wait for an issuer that hangs,
key rotation, and no flood of fetches for made-up key ids."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from queued_jobs.errors import AuthenticationUnavailable, ConfigurationError, NotAuthenticated
from queued_jobs.web.auth import BearerTokens, SigningKeys
from tests.support.oidc import AUDIENCE, Issuer, rsa_key
from tests.support.waiting import until

KEYS = "/keys"
DISCOVERY = "/.well-known/openid-configuration"
#: The timeout of the hang tests: short, so that the test is.
SHORT = 0.2


def bearer(issuer: Issuer, keys: SigningKeys) -> BearerTokens:
    return BearerTokens(issuer=issuer.url, audience=AUDIENCE, keys=keys)


async def authenticated(tokens: BearerTokens, token: str) -> str:
    principal = await tokens.authenticate({"Authorization": f"Bearer {token}"})
    assert principal is not None
    return principal.id


async def test_keys_are_found_by_discovery_and_kept(issuer: Issuer) -> None:
    keys = SigningKeys(issuer.url)
    tokens = bearer(issuer, keys)

    for _ in range(5):
        await authenticated(tokens, issuer.token())

    assert keys.jwks_url == issuer.jwks_url
    assert issuer.requests == {DISCOVERY: 1, KEYS: 1}


async def test_requests_arriving_together_share_one_fetch(issuer: Issuer) -> None:
    tokens = bearer(issuer, SigningKeys(issuer.url))

    await asyncio.gather(*(authenticated(tokens, issuer.token()) for _ in range(20)))

    assert issuer.requests == {DISCOVERY: 1, KEYS: 1}


async def test_a_new_key_is_fetched_when_a_token_names_it(issuer: Issuer) -> None:
    tokens = bearer(issuer, SigningKeys(issuer.url, refetch_interval=0))
    await authenticated(tokens, issuer.token())

    rotated = issuer.publish(rsa_key(1, kid="rotated"))

    assert await authenticated(tokens, issuer.token(rotated)) == "subject-ada"
    assert issuer.requests[KEYS] == 2


async def test_made_up_key_ids_fetch_the_keys_at_most_once_per_interval(issuer: Issuer) -> None:
    tokens = bearer(issuer, SigningKeys(issuer.url, refetch_interval=3600))
    await authenticated(tokens, issuer.token())

    for _ in range(50):
        forged = issuer.token(rsa_key(1, kid=str(uuid.uuid4())))
        with pytest.raises(NotAuthenticated, match="does not publish"):
            await authenticated(tokens, forged)

    assert issuer.requests[KEYS] == 1


class Clock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_unknown_key_id_is_fetched_again_once_the_interval_has_passed(
    issuer: Issuer,
) -> None:
    clock = Clock()
    tokens = bearer(issuer, SigningKeys(issuer.url, refetch_interval=30, clock=clock))
    await authenticated(tokens, issuer.token())
    rotated = issuer.publish(rsa_key(1, kid="rotated"))
    clock.now += 29
    with pytest.raises(NotAuthenticated, match="does not publish"):  # too soon
        await authenticated(tokens, issuer.token(rotated))

    clock.now += 1

    assert await authenticated(tokens, issuer.token(rotated)) == "subject-ada"
    assert issuer.requests[KEYS] == 2


async def test_keys_older_than_refresh_after_are_fetched_in_the_background(
    issuer: Issuer,
) -> None:
    clock = Clock()
    keys = SigningKeys(issuer.url, refresh_after=3600, clock=clock)
    tokens = bearer(issuer, keys)
    await authenticated(tokens, issuer.token())
    issuer.hanging.add(KEYS)  # the refresh takes its time: requests do not wait for it
    clock.now += 3600

    assert await authenticated(tokens, issuer.token()) == "subject-ada"

    await until(lambda: issuer.requests[KEYS] == 2, "the background refresh")
    issuer.released.set()
    await until(lambda: keys._fetch is None, "the background refresh to end")
    assert keys._fetched_at == clock.now


async def test_a_hanging_key_set_fails_the_request_within_the_timeout(issuer: Issuer) -> None:
    issuer.hanging.add(KEYS)
    tokens = bearer(issuer, SigningKeys(issuer.url, timeout=SHORT, refetch_interval=0))
    started = time.monotonic()

    with pytest.raises(AuthenticationUnavailable, match=r"no answer within 0\.2 s"):
        await authenticated(tokens, issuer.token())

    assert time.monotonic() - started < SHORT + 1.0


def test_unavailable_keys_still_refuse_where_only_not_authenticated_is_handled() -> None:
    assert issubclass(AuthenticationUnavailable, NotAuthenticated)


async def test_after_a_hang_the_next_request_fetches_again_and_succeeds(issuer: Issuer) -> None:
    issuer.hanging.add(KEYS)
    tokens = bearer(issuer, SigningKeys(issuer.url, timeout=SHORT, refetch_interval=0))
    with pytest.raises(AuthenticationUnavailable):
        await authenticated(tokens, issuer.token())

    issuer.hanging.clear()
    issuer.released.set()
    await until(lambda: tokens.keys._fetch is None, "the hung fetch to end")

    assert await authenticated(tokens, issuer.token()) == "subject-ada"


async def test_a_failed_fetch_is_not_retried_by_every_request(issuer: Issuer) -> None:
    issuer.hanging.add(DISCOVERY)
    tokens = bearer(issuer, SigningKeys(issuer.url, timeout=SHORT, refetch_interval=3600))
    with pytest.raises(AuthenticationUnavailable):
        await authenticated(tokens, issuer.token())
    await until(lambda: tokens.keys._fetch is None, "the hung fetch to end")

    started = time.monotonic()
    for _ in range(10):
        with pytest.raises(AuthenticationUnavailable, match="timed out"):
            await authenticated(tokens, issuer.token())

    assert time.monotonic() - started < SHORT  # refused at once, without waiting
    assert issuer.requests[DISCOVERY] == 1


async def test_an_unreachable_issuer_is_unavailable_not_an_error() -> None:
    with socket.socket() as placeholder:  # a free port nothing listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    keys = SigningKeys(f"http://127.0.0.1:{port}", timeout=SHORT)

    with pytest.raises(AuthenticationUnavailable, match="could not be fetched"):
        await keys.key("rsa-0", "RS256")


async def test_a_discovery_document_of_another_issuer_is_not_followed(issuer: Issuer) -> None:
    issuer.claimed_issuer = "https://evil.example"

    with pytest.raises(AuthenticationUnavailable, match="check the issuer setting"):
        await SigningKeys(issuer.url).key("rsa-0", "RS256")
    assert KEYS not in issuer.requests


async def test_a_key_set_of_secret_and_encryption_keys_holds_no_signing_key(
    issuer: Issuer,
) -> None:
    issuer.published[:] = [
        {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
        {**rsa_key(0).jwk(), "use": "enc"},
    ]

    with pytest.raises(AuthenticationUnavailable, match="no public signing key"):
        await SigningKeys(issuer.url).key("secret", "RS256")


async def test_a_token_without_a_kid_uses_the_only_key(issuer: Issuer) -> None:
    keys = SigningKeys(issuer.url)

    key = await keys.key(None, "RS256")

    assert key.key_id == "rsa-0"


async def test_a_token_without_a_kid_is_refused_when_the_issuer_has_several_keys(
    issuer: Issuer,
) -> None:
    issuer.publish(rsa_key(1))

    with pytest.raises(NotAuthenticated, match="names no signing key"):
        await SigningKeys(issuer.url).key(None, "RS256")


def test_signing_keys_need_an_issuer_or_a_jwks_url() -> None:
    with pytest.raises(ConfigurationError, match="issuer"):
        SigningKeys()


@pytest.mark.parametrize("timeout", [0, -1])
def test_a_timeout_that_is_not_positive_is_refused(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        SigningKeys("https://issuer.example", timeout=timeout)
