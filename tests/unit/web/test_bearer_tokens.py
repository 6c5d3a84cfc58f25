"""Bearer tokens checked against a real issuer on a local port: what is accepted, and every
way a token is refused."""

from __future__ import annotations

import time
from typing import Any

import pytest

from queued_jobs.errors import ConfigurationError, NotAuthenticated
from queued_jobs.web.auth import BearerTokens, Principal, Role, SigningKeys
from tests.support.oidc import (
    AUDIENCE,
    Issuer,
    ec_key,
    hmac_token,
    rsa_key,
    unsigned_token,
)


def bearer(issuer: Issuer, **options: Any) -> BearerTokens:
    return BearerTokens(issuer=issuer.url, audience=AUDIENCE, **options)


async def principal_of(tokens: BearerTokens, token: str) -> Principal | None:
    return await tokens.authenticate({"Authorization": f"Bearer {token}"})


async def refused(tokens: BearerTokens, token: str) -> str:
    with pytest.raises(NotAuthenticated) as refusal:
        await principal_of(tokens, token)
    return str(refusal.value)


# --- accepted ------------------------------------------------------------------------------


async def test_a_valid_token_is_its_subject_a_user_with_its_name(issuer: Issuer) -> None:
    principal = await principal_of(bearer(issuer), issuer.token())

    assert principal == Principal("subject-ada", frozenset({Role.USER}), "bearer", "Ada Lovelace")
    assert issuer.requests == {"/.well-known/openid-configuration": 1, "/keys": 1}


async def test_the_owner_claim_chooses_the_principal_id(issuer: Issuer) -> None:
    token = issuer.token(oid="0f1e2d3c-aaaa-bbbb-cccc-000000000001")

    principal = await principal_of(bearer(issuer, owner_claim="oid"), token)

    assert principal is not None
    assert principal.id == "0f1e2d3c-aaaa-bbbb-cccc-000000000001"


async def test_app_roles_in_the_roles_claim_are_mapped_to_roles(issuer: Issuer) -> None:
    token = issuer.token(roles=["queued-jobs.operator", "something.else"])

    principal = await principal_of(bearer(issuer), token)

    assert principal is not None
    assert principal.roles == {Role.USER, Role.OPERATOR}
    assert principal.acts_on_all


async def test_delegated_scopes_are_not_roles(issuer: Issuer) -> None:
    token = issuer.token(scp="queued-jobs.operator queued-jobs.reader")

    principal = await principal_of(bearer(issuer), token)

    assert principal is not None
    assert principal.roles == {Role.USER}


async def test_a_role_map_and_roles_claim_of_ones_own_are_used(issuer: Issuer) -> None:
    token = issuer.token(groups=["b7c1-admins"])
    tokens = bearer(issuer, roles_claim="groups", role_map={"b7c1-admins": Role.READER})

    principal = await principal_of(tokens, token)

    assert principal is not None
    assert principal.roles == {Role.USER, Role.READER}


async def test_a_token_for_any_of_several_audiences_is_accepted(issuer: Issuer) -> None:
    tokens = BearerTokens(issuer=issuer.url, audience=["api://other", AUDIENCE])

    assert await principal_of(tokens, issuer.token()) is not None


async def test_an_ec_key_and_a_pss_signature_are_accepted(issuer: Issuer) -> None:
    ec = issuer.publish(ec_key())
    tokens = bearer(issuer)

    assert await principal_of(tokens, issuer.token(ec, algorithm="ES256")) is not None
    assert await principal_of(tokens, issuer.token(algorithm="PS256")) is not None


async def test_a_token_just_expired_is_accepted_within_the_leeway(issuer: Issuer) -> None:
    token = issuer.token(exp=int(time.time()) - 30)

    assert await principal_of(bearer(issuer, leeway=60), token) is not None


async def test_a_jwks_url_given_is_read_without_discovery(issuer: Issuer) -> None:
    tokens = bearer(issuer, jwks_url=issuer.jwks_url)

    assert await principal_of(tokens, issuer.token()) is not None
    assert issuer.requests == {"/keys": 1}


async def test_another_authorization_scheme_is_left_to_the_next_authenticator(
    issuer: Issuer,
) -> None:
    tokens = bearer(issuer)

    assert await tokens.authenticate({"Authorization": "ApiKey qj_abc"}) is None
    assert await tokens.authenticate({}) is None
    assert issuer.requests == {}


async def test_the_scheme_is_read_in_any_case(issuer: Issuer) -> None:
    principal = await bearer(issuer).authenticate({"authorization": f"bearer {issuer.token()}"})

    assert principal is not None


# --- refused -------------------------------------------------------------------------------


async def test_an_expired_token_is_refused(issuer: Issuer) -> None:
    token = issuer.token(exp=int(time.time()) - 3600)

    assert "expired" in await refused(bearer(issuer), token)


async def test_a_token_not_valid_yet_is_refused(issuer: Issuer) -> None:
    token = issuer.token(nbf=int(time.time()) + 3600)

    assert "not valid yet" in await refused(bearer(issuer), token)


async def test_a_token_for_another_audience_is_refused(issuer: Issuer) -> None:
    token = issuer.token(aud="api://another-api")

    assert "audience" in await refused(bearer(issuer), token)


async def test_a_token_from_another_issuer_is_refused(issuer: Issuer) -> None:
    token = issuer.token(iss="https://login.example.com/other")

    assert "another issuer" in await refused(bearer(issuer), token)


async def test_a_token_signed_by_another_key_under_a_published_kid_is_refused(
    issuer: Issuer,
) -> None:
    forger = rsa_key(1, kid="rsa-0")  # the published key's id, another private key

    assert "signature" in await refused(bearer(issuer), issuer.token(forger))


async def test_an_unsigned_token_with_alg_none_is_refused(issuer: Issuer) -> None:
    token = unsigned_token({"alg": "none", "typ": "JWT", "kid": "rsa-0"}, issuer.claims())

    assert "algorithm" in await refused(bearer(issuer), token)
    assert issuer.requests == {}  # refused before any key is fetched


async def test_hs256_signed_with_the_public_key_as_secret_is_refused(issuer: Issuer) -> None:
    token = hmac_token(rsa_key(0).public_pem(), issuer.claims(), kid="rsa-0")

    assert "algorithm" in await refused(bearer(issuer), token)


async def test_a_token_whose_algorithm_does_not_fit_its_key_is_refused(issuer: Issuer) -> None:
    ec = issuer.publish(ec_key())
    token = issuer.token(ec, algorithm="ES256", headers={"kid": "rsa-0"})  # an RSA key's id

    assert "does not fit" in await refused(bearer(issuer), token)


async def test_a_token_other_than_its_keys_algorithm_is_refused(issuer: Issuer) -> None:
    issuer.publish(rsa_key(2), alg="RS512")

    token = issuer.token(rsa_key(2), algorithm="RS256")

    assert "algorithm its key is for" in await refused(bearer(issuer), token)


async def test_a_token_signed_by_an_unknown_key_is_refused(issuer: Issuer) -> None:
    stranger = rsa_key(1, kid="not-published")

    assert "does not publish" in await refused(bearer(issuer), issuer.token(stranger))


async def test_a_token_without_the_owner_claim_is_refused(issuer: Issuer) -> None:
    token = issuer.token(sub=None)

    assert await refused(bearer(issuer), token) == "the token's sub claim is missing"


async def test_a_token_whose_owner_claim_cannot_own_jobs_is_refused(issuer: Issuer) -> None:
    token = issuer.token(sub="ada\x1b[2J")

    assert "cannot be a job owner" in await refused(bearer(issuer), token)


@pytest.mark.parametrize("claim", ["exp", "aud", "iss"])
async def test_a_token_without_a_required_claim_is_refused(issuer: Issuer, claim: str) -> None:
    token = issuer.signed(issuer.claims(**{claim: None}))

    assert claim in await refused(bearer(issuer), token)


async def test_a_token_over_the_size_limit_is_refused_unread(issuer: Issuer) -> None:
    token = issuer.token(padding="x" * 20_000)

    assert "over 16,384 bytes" in await refused(bearer(issuer), token)
    assert issuer.requests == {}


@pytest.mark.parametrize(
    "token", ["", "not-a-jwt", "a.b.c", "é.é.é", "eyJhbGciOiJSUzI1NiJ9", "...."]
)
async def test_a_malformed_token_is_refused(issuer: Issuer, token: str) -> None:
    message = await refused(bearer(issuer), token)

    assert "token" in message


# --- settings that cannot work -------------------------------------------------------------


@pytest.mark.parametrize("algorithms", [["none"], ["HS256"], ["RS256", "hs512"], []])
def test_algorithms_other_than_public_key_ones_cannot_be_chosen(algorithms: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="public-key algorithms only"):
        BearerTokens(issuer="https://issuer.example", audience=AUDIENCE, algorithms=algorithms)


def test_an_audience_is_required() -> None:
    with pytest.raises(ConfigurationError, match="audience"):
        BearerTokens(issuer="https://issuer.example", audience=[])


@pytest.mark.parametrize("url", ["http://issuer.example", "file:///etc/passwd", "issuer"])
def test_an_issuer_not_on_https_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        BearerTokens(issuer=url, audience=AUDIENCE)


def test_keys_and_a_jwks_url_are_not_both_given() -> None:
    keys = SigningKeys("https://issuer.example")

    with pytest.raises(ConfigurationError, match="not both"):
        BearerTokens(
            issuer="https://issuer.example",
            audience=AUDIENCE,
            keys=keys,
            jwks_url="https://issuer.example/keys",
        )
