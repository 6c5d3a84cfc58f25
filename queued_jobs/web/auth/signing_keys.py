"""A token issuer's public signing keys (its JSON Web Key Set), found by OpenID Connect
discovery, fetched off the event loop and kept.

A request never waits for the issuer longer than ``timeout``: the fetch (pyjwt's
``PyJWKClient``, which blocks) runs in a thread of its own, and every request that needs
keys while it runs waits for that one fetch, each for at most ``timeout``. A request that
cannot get keys in time fails with ``AuthenticationUnavailable`` (answer 503: the request
may be fine, the issuer is not reachable); a fetch still running goes on and keeps what it
gets for the next requests. The fetch's own network steps may each take twice ``timeout``
(``_FETCH_PATIENCE``): a slow issuer still gets its keys kept for the next requests, and a
request's bound is always the one that ends its wait.

Keys are fetched again:

- when a token names a key (``kid``) the set does not have, which is how a rotation shows
  up, but at most once every ``refetch_interval`` seconds: tokens with made-up key ids
  cannot make us hammer the issuer;
- after ``refresh_after`` seconds, in the background: requests go on with the keys held.

A fetch that fails while keys are held keeps them (and logs a warning); with none held,
requests fail with ``AuthenticationUnavailable`` and the next fetch is tried after at most
``_RETRY_PAUSE`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, Final
from urllib.parse import urlsplit

from jwt import PyJWK, PyJWKClient, PyJWTError

from ...errors import AuthenticationUnavailable, ConfigurationError, NotAuthenticated
from ...telemetry.logs import library_logger

__all__ = ["DISCOVERY_PATH", "SigningKeys"]

log = library_logger("queued_jobs.web.auth")

#: Where an issuer's OpenID Connect discovery document is, under the issuer's URL.
DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
#: The longest a failed fetch keeps requests from trying another (with no keys held).
_RETRY_PAUSE: Final = 5.0
#: The largest discovery document read.
_DOCUMENT_LIMIT: Final = 1024 * 1024
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1", "localhost"})
#: Key types that sign with a secret, not a public key: never accepted from a key set.
_SECRET_KEY_TYPES: Final = frozenset({"oct"})


def checked_url(url: str, what: str) -> str:
    """``url`` if it is ``https://`` (or ``http://`` on this machine, for tests), else a
    ``ConfigurationError`` naming ``what``."""
    parts = urlsplit(url.strip())
    local = parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK
    if not parts.netloc or not (parts.scheme == "https" or local):
        raise ConfigurationError(f"{what} must be an https:// URL, not {url!r}")
    return url.strip()


@dataclass(frozen=True, slots=True)
class _Fetched:
    """One fetch's outcome: the key set's URL and its signing keys, or why there are none."""

    jwks_url: str | None
    keys: tuple[Mapping[str, Any], ...] = ()
    problem: str | None = None


class SigningKeys:
    """The signing keys of ``issuer`` (found at ``<issuer>/.well-known/openid-configuration``)
    or at ``jwks_url``. See the module's docstring for when they are fetched."""

    def __init__(
        self,
        issuer: str | None = None,
        *,
        jwks_url: str | None = None,
        timeout: float = 5.0,
        refetch_interval: float = 30.0,
        refresh_after: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: seconds that only go forward, for the intervals (tests pass their own)."""
        if issuer is None and jwks_url is None:
            raise ConfigurationError("signing keys need an issuer (for discovery) or a JWKS URL")
        if timeout <= 0 or refetch_interval < 0 or refresh_after <= 0:
            raise ConfigurationError(
                "the signing keys' timeout and refresh_after must be positive, and "
                "refetch_interval not negative"
            )
        self.issuer = None if issuer is None else checked_url(issuer, "the token issuer")
        self.timeout = timeout
        self.refetch_interval = refetch_interval
        self.refresh_after = refresh_after
        self._clock = clock
        self._jwks_url = None if jwks_url is None else checked_url(jwks_url, "the JWKS URL")
        self._keys: tuple[Mapping[str, Any], ...] | None = None
        self._fetched_at = 0.0
        self._tried_at: float | None = None
        self._problem: str | None = None
        self._fetch: asyncio.Future[_Fetched] | None = None
        self._built: dict[tuple[str | None, str], PyJWK] = {}

    @property
    def jwks_url(self) -> str | None:
        """The key set's URL: given, or found by discovery (``None`` until then)."""
        return self._jwks_url

    async def key(self, kid: str | None, algorithm: str) -> PyJWK:
        """The key ``kid`` (a token's ``kid`` header; ``None`` if it names none) to check a
        signature made with ``algorithm``. Raises ``NotAuthenticated`` for a key the
        issuer does not publish or that cannot make such signatures, and
        ``AuthenticationUnavailable`` if the keys could not be fetched in time."""
        now = self._clock()
        if self._keys is None:
            await self._fetched(now)
        elif now - self._fetched_at >= self.refresh_after and self._may_start(now):
            self._started()  # in the background: this request goes on with the keys held
        found = self._find(kid)
        if found is None and (self._fetch is not None or self._may_start(now)):
            await self._fetched(now)
            found = self._find(kid)
        if found is None:
            if kid is None:
                raise NotAuthenticated(
                    "the token names no signing key (kid), and the issuer has several"
                )
            raise NotAuthenticated("the token is signed with a key the issuer does not publish")
        return self._built_key(kid, found, algorithm)

    def _find(self, kid: str | None) -> Mapping[str, Any] | None:
        keys = self._keys or ()
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((key for key in keys if key.get("kid") == kid), None)

    def _built_key(self, kid: str | None, jwk: Mapping[str, Any], algorithm: str) -> PyJWK:
        if (kid, algorithm) in self._built:
            return self._built[kid, algorithm]
        if jwk.get("alg", algorithm) != algorithm:
            raise NotAuthenticated("the token is not signed with the algorithm its key is for")
        try:
            built = PyJWK(dict(jwk), algorithm=algorithm)
        except PyJWTError:  # an RSA key for an EC algorithm, say
            raise NotAuthenticated("the token's algorithm does not fit its signing key") from None
        self._built[kid, algorithm] = built
        return built

    def _may_start(self, now: float) -> bool:
        """Whether a new fetch may start: none is running, and the last one started long
        enough ago."""
        if self._fetch is not None:
            return False
        if self._tried_at is None:
            return True
        pause = self.refetch_interval if self._keys else min(self.refetch_interval, _RETRY_PAUSE)
        return now - self._tried_at >= pause

    async def _fetched(self, now: float) -> None:
        """Wait (at most ``timeout``) for a fetch: the running one, or a new one."""
        loop = asyncio.get_running_loop()
        fetch = self._fetch
        if fetch is not None and fetch.get_loop() is not loop:  # another event loop's
            self._fetch = fetch = None
        if fetch is None:
            if not self._may_start(now):  # the last fetch failed just now
                raise AuthenticationUnavailable(self._unavailable(self._problem))
            fetch = self._started()
        try:
            outcome = await asyncio.wait_for(asyncio.shield(fetch), self.timeout)
        except TimeoutError:
            raise AuthenticationUnavailable(
                self._unavailable(f"no answer within {self.timeout:g} s")
            ) from None
        if outcome.problem is not None:
            raise AuthenticationUnavailable(self._unavailable(outcome.problem))

    def _unavailable(self, problem: str | None) -> str:
        where = self._jwks_url or self.issuer
        return (
            f"the token cannot be checked now: the issuer's signing keys could not be "
            f"fetched from {where} ({problem or 'unknown problem'}); try again later"
        )

    def _started(self) -> asyncio.Future[_Fetched]:
        loop = asyncio.get_running_loop()
        fetch: asyncio.Future[_Fetched] = loop.create_future()
        self._fetch = fetch
        self._tried_at = self._clock()
        jwks_url, issuer = self._jwks_url, self.issuer
        timeout = self.timeout * _FETCH_PATIENCE

        def run() -> None:
            try:
                outcome = _download(jwks_url, issuer, timeout)
            except Exception as exc:  # whatever happens, the waiting requests hear of it
                log.exception("fetching the issuer's signing keys failed")
                outcome = _Fetched(jwks_url, problem=f"{type(exc).__name__}: {exc}")
            with suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(self._settle, fetch, outcome)

        threading.Thread(target=run, name="queued-jobs: signing keys", daemon=True).start()
        return fetch

    def _settle(self, fetch: asyncio.Future[_Fetched], outcome: _Fetched) -> None:
        if self._fetch is fetch:
            self._fetch = None
        self._jwks_url = outcome.jwks_url or self._jwks_url  # discovered, even if no keys
        if outcome.problem is None:
            self._keys = outcome.keys
            self._fetched_at = self._clock()
            self._problem = None
            self._built.clear()
            log.debug("fetched %d signing keys from %s", len(outcome.keys), outcome.jwks_url)
        else:
            self._problem = outcome.problem
            held = "keeping the keys held" if self._keys else "no keys held"
            log.warning(
                "the issuer's signing keys could not be fetched (%s): %s", held, outcome.problem
            )
        if not fetch.done():
            fetch.set_result(outcome)


_FETCH_PATIENCE = 2.0
"""How many request timeouts each network step of a fetch may take."""


def _download(jwks_url: str | None, issuer: str | None, timeout: float) -> _Fetched:
    """Discovery (without ``jwks_url``) and the key set, in the calling thread."""
    try:
        if jwks_url is None:
            assert issuer is not None  # one of the two, as the constructor checks
            jwks_url = _discovered_jwks_url(issuer, timeout)
        document = PyJWKClient(jwks_url, cache_jwk_set=False, timeout=timeout).fetch_data()
    except _Unusable as exc:
        return _Fetched(jwks_url, problem=str(exc))
    except (PyJWTError, OSError, HTTPException, ValueError, RecursionError) as exc:
        return _Fetched(jwks_url, problem=f"{type(exc).__name__}: {exc}")
    keys = _signing_keys(document)
    if not keys:
        return _Fetched(jwks_url, problem="the key set holds no public signing key")
    return _Fetched(jwks_url, keys)


class _Unusable(Exception):
    """A discovery document that does not lead to a key set."""


def _discovered_jwks_url(issuer: str, timeout: float) -> str:
    url = issuer.rstrip("/") + DISCOVERY_PATH
    opener = urllib.request.build_opener(_NoRedirects())
    with opener.open(urllib.request.Request(url), timeout=timeout) as response:
        body = response.read(_DOCUMENT_LIMIT + 1)
    if len(body) > _DOCUMENT_LIMIT:
        raise _Unusable(f"the discovery document is over {_DOCUMENT_LIMIT:,} bytes")
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("jwks_uri"), str):
        raise _Unusable("the discovery document names no jwks_uri")
    if document.get("issuer") != issuer:
        raise _Unusable(
            f"the discovery document is for issuer {str(document.get('issuer'))[:200]!r}, "
            f"not {issuer!r}: check the issuer setting"
        )
    try:
        return checked_url(document["jwks_uri"], "the discovered jwks_uri")
    except ConfigurationError as exc:
        raise _Unusable(str(exc)) from None


def _signing_keys(document: Any) -> tuple[Mapping[str, Any], ...]:
    """The public signing keys of a key set; keys for encryption, secret keys, and keys
    pyjwt cannot read are left out."""
    entries = document.get("keys") if isinstance(document, dict) else None
    keys = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") in _SECRET_KEY_TYPES or not isinstance(entry.get("kid", ""), str):
            continue
        try:
            PyJWK(entry)
        except PyJWTError:
            continue
        keys.append(entry)
    return tuple(keys)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the discovery document is read from the issuer itself."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
