"""A real OpenID Connect issuer on a local port, for bearer-token tests: its discovery
document and key set served over HTTP by a thread of the test process, with RSA and EC
keys made by ``cryptography``, tokens signed with pyjwt, and a count of every request.

It can publish a new key (a rotation), hang on a path until told to stop, and sign with
keys it does not publish (a forger)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.waiting import PATIENCE

__all__ = ["AUDIENCE", "Issuer", "SigningKey", "unsigned_token"]

AUDIENCE = "api://queued-jobs-tests"
JWKS_PATH = "/keys"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class SigningKey:
    """A private key and the id its public half is published under."""

    kid: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def jwk(self, *, alg: str | None = None) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        data.update(kid=self.kid, use="sig")
        if alg is not None:
            data["alg"] = alg
        return data

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@cache
def _rsa_key(number: int) -> rsa.RSAPrivateKey:
    """The same few RSA keys for the whole session: making one takes tens of milliseconds."""
    del number  # only the cache key
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_key(number: int = 0, *, kid: str | None = None) -> SigningKey:
    return SigningKey(kid or f"rsa-{number}", _rsa_key(number))


def ec_key(*, kid: str = "ec-0") -> SigningKey:
    return SigningKey(kid, ec.generate_private_key(ec.SECP256R1()))


def _segment(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token put together by hand: any header, any claims, any signature."""
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{_segment(header)}.{_segment(claims)}.{encoded}"


def hmac_token(secret: bytes, claims: dict[str, Any], *, kid: str) -> str:
    """A token signed with HS256 using ``secret`` (say, a published public key)."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_segment(header)}.{_segment(claims)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return unsigned_token(header, claims, signature)


@dataclass
class Issuer:
    """The issuer's state, changed by tests while its server runs."""

    url: str = ""
    published: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    #: Paths whose requests wait until ``released`` is set (or the test's patience ends).
    hanging: set[str] = field(default_factory=set)
    released: threading.Event = field(default_factory=threading.Event)
    #: The issuer the discovery document names (default: ``url``).
    claimed_issuer: str | None = None

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    def publish(self, key: SigningKey, *, alg: str | None = None) -> SigningKey:
        self.keys[key.kid] = key
        self.published.append(key.jwk(alg=alg))
        return key

    def claims(self, **changes: Any) -> dict[str, Any]:
        """A user's claims for this issuer and the test audience, valid for an hour;
        ``changes`` replace them (``None`` removes one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "subject-ada",
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "ada")),
            "name": "Ada Lovelace",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        key: SigningKey | None = None,
        *,
        algorithm: str = "RS256",
        headers: dict[str, Any] | None = None,
        **changes: Any,
    ) -> str:
        """A token of :meth:`claims` signed by ``key`` (default: the first published key)."""
        return self.signed(self.claims(**changes), key, algorithm=algorithm, headers=headers)

    def signed(
        self,
        claims: dict[str, Any],
        key: SigningKey | None = None,
        *,
        algorithm: str = "RS256",
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A token of ``claims`` signed by ``key`` (default: the first published key)."""
        signer = key or next(iter(self.keys.values()))
        return jwt.encode(
            claims,
            signer.private,
            algorithm=algorithm,
            headers={"kid": signer.kid, **(headers or {})},
        )

    def handle(self, path: str) -> tuple[int, dict[str, Any]]:
        self.requests[path] += 1
        if path in self.hanging:
            self.released.wait(PATIENCE)
        if path == DISCOVERY_PATH:
            issuer = self.url if self.claimed_issuer is None else self.claimed_issuer
            return 200, {"issuer": issuer, "jwks_uri": self.jwks_url}
        if path == JWKS_PATH:
            return 200, {"keys": list(self.published)}
        return 404, {"error": "not found"}


class IssuerServer:
    """``with IssuerServer() as issuer:`` an :class:`Issuer` served on 127.0.0.1."""

    def __init__(self) -> None:
        self.issuer = Issuer()
        state = self.issuer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, document = state.handle(self.path)
                body = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting (a hang test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no request lines in the test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> Issuer:
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.issuer.url = f"http://{host!s}:{port}"
        return self.issuer

    def __exit__(self, *exc_info: object) -> None:
        self.issuer.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(PATIENCE)
