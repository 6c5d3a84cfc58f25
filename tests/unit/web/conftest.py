"""Fixtures of the authentication tests: a real OpenID Connect issuer on a local port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oidc import Issuer, IssuerServer, rsa_key


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    """An issuer serving its discovery document and a key set of one RSA key."""
    with IssuerServer() as served:
        served.publish(rsa_key(0))
        yield served
