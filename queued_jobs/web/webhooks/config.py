"""Which webhooks an app has: :class:`Webhook`, from code or from app settings."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from ...errors import ConfigurationError
from ...models import TERMINAL_STATUSES, JobChange, JobStatus

__all__ = ["TAG_PREFIX", "WEBHOOKS_SETTING", "Webhook", "webhooks_from_settings"]

#: The app setting holding the webhooks, as a JSON list of objects with the fields of
#: :class:`Webhook` (``secret``, ``url``, ``name``; ``statuses``, ``types``,
#: ``only_tagged``, ``max_attempts``, ``kinds`` optional).
WEBHOOKS_SETTING: Final = "QUEUED_JOBS_WEBHOOKS"
#: A job tagged ``webhook:<name>`` is heard by the hook of that name when it is
#: ``only_tagged`` (a hook per job).
TAG_PREFIX: Final = "webhook:"
_NAME_LIMIT = 64
_KINDS: Final = frozenset({"job", "sequence"})


@dataclass(frozen=True)
class Webhook:
    """An endpoint that hears job changes: each one a POST signed as the Standard Webhooks
    spec says (``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` with
    ``secret``, a ``whsec_`` base64 key), retried with backoff until it answers 2xx.

    The URL is the app's, never a caller's: a URL taken from a request would let anyone
    aim the server at addresses only it can reach.
    """

    name: str
    url: str
    secret: str = field(repr=False)
    #: The statuses whose changes it hears (progress reports are changes too: add
    #: ``running`` to hear them). By default the ends: succeeded, failed, cancelled.
    statuses: frozenset[JobStatus] = TERMINAL_STATUSES
    #: Only these job types (empty: all).
    types: frozenset[str] = frozenset()
    #: Only jobs tagged ``webhook:<name>``.
    only_tagged: bool = False
    #: The kinds of change it hears: ``job`` (the default) and ``sequence`` (a
    #: sequence's own changes, ``sequence.<status>`` events), so that an endpoint written
    #: for job events never meets another kind unless it asks for it.
    kinds: frozenset[str] = frozenset({"job"})
    #: Deliveries are tried this many times (with the app's retry backoff).
    max_attempts: int = 8
    #: How long one try may take.
    timeout: timedelta = timedelta(seconds=10)

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > _NAME_LIMIT or not self.name.isidentifier():
            raise ConfigurationError(
                f"webhook name {self.name!r:.80} is not valid: a word of letters, digits and "
                f"'_' of at most {_NAME_LIMIT} characters"
            )
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(f"webhook {self.name}: {self.url!r:.200} is no http(s) URL")
        if not self.secret.startswith("whsec_"):
            raise ConfigurationError(f"webhook {self.name}: its secret must start with whsec_")
        try:
            from standardwebhooks.webhooks import Webhook as Signer

            Signer(self.secret)
        except Exception as exc:  # the library raises several kinds for a bad key
            raise ConfigurationError(
                f"webhook {self.name}: its secret is not valid: {exc}"
            ) from None
        if not 1 <= self.max_attempts <= 100:
            raise ConfigurationError(f"webhook {self.name}: max_attempts is 1 to 100")
        if not self.kinds or not self.kinds <= _KINDS:
            raise ConfigurationError(
                f"webhook {self.name}: kinds are one or more of {', '.join(sorted(_KINDS))}"
            )

    def hears(self, change: JobChange, tags: Sequence[str] = ()) -> bool:
        return (
            change.kind in self.kinds
            and change.status in self.statuses
            and (not self.types or change.job_type in self.types)
            and (not self.only_tagged or f"{TAG_PREFIX}{self.name}" in tags)
        )


def _one(entry: Any, index: int) -> Webhook:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{WEBHOOKS_SETTING}[{index}] is not an object")
    known = {"name", "url", "secret", "statuses", "types", "only_tagged", "max_attempts", "kinds"}
    unknown = set(entry) - known
    if unknown:
        raise ConfigurationError(
            f"{WEBHOOKS_SETTING}[{index}] has unknown fields {sorted(unknown)}"
        )
    try:
        statuses = entry.get("statuses")
        return Webhook(
            name=str(entry["name"]),
            url=str(entry["url"]),
            secret=str(entry["secret"]),
            statuses=TERMINAL_STATUSES
            if statuses is None
            else frozenset(JobStatus(s) for s in statuses),
            types=frozenset(str(t) for t in entry.get("types", [])),
            only_tagged=bool(entry.get("only_tagged", False)),
            max_attempts=int(entry.get("max_attempts", 8)),
            kinds=frozenset(str(k) for k in entry.get("kinds", ["job"])),
        )
    except KeyError as exc:
        raise ConfigurationError(f"{WEBHOOKS_SETTING}[{index}] has no {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{WEBHOOKS_SETTING}[{index}]: {exc}") from None


def webhooks_from_settings(environ: Mapping[str, str] | None = None) -> list[Webhook]:
    """The webhooks of the ``QUEUED_JOBS_WEBHOOKS`` app setting (none if it is unset)."""
    text = (os.environ if environ is None else environ).get(WEBHOOKS_SETTING, "").strip()
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{WEBHOOKS_SETTING} is not JSON: {exc}") from None
    if not isinstance(entries, list):
        raise ConfigurationError(f"{WEBHOOKS_SETTING} is a JSON list of webhooks")
    hooks = [_one(entry, i) for i, entry in enumerate(entries)]
    names = [hook.name for hook in hooks]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{WEBHOOKS_SETTING} names a webhook twice")
    return hooks
