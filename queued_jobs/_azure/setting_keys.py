"""The ``<connection>__<key>`` app settings that queued-jobs does not read: those the
Functions host reads for an identity-based connection, and those nobody reads.

Neither stops the app: the host imports ``function_app.py`` to index every function, and an
exception there would leave no function indexed, the poison triggers included. Each is
named in one warning and ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from ..telemetry.logs import library_logger

__all__ = ["HOST_ONLY_SETTINGS", "warn_about_ignored_settings"]

log = library_logger("queued_jobs.settings")

#: Keys the Functions host understands under an identity-based connection that queued-jobs
#: does not use, each with what it means to the host (keys in lower case).
HOST_ONLY_SETTINGS: Final[Mapping[str, str]] = {
    "serviceuri": (
        "a single blob or queue service URI for one binding; queued-jobs needs the blob, queue "
        "and table services: set __blobServiceUri, __queueServiceUri and __tableServiceUri, "
        "or __accountName"
    ),
    "tokenfilepath": "the token file of a workload identity, which queued-jobs does not build",
    "clientcertificate": "a service principal's certificate, which queued-jobs does not load",
    "clientcertificatestorename": "the store of a service principal's certificate",
    "clientcertificatestorelocation": "the store of a service principal's certificate",
    "additionallyallowedtenants": "more tenants a developer credential may sign in to",
}


def warn_about_ignored_settings(
    name: str, settings: Mapping[str, str], understood: Iterable[str]
) -> None:
    """Log one warning per non-empty ``<name>__<key>`` setting whose key is not one of
    ``understood`` (matched without regard to case, as the host matches them)."""
    understood = tuple(understood)
    prefix = f"{name}__".lower()
    known = {key.lower() for key in understood}
    for key in sorted(settings):
        if not key.lower().startswith(prefix) or not str(settings[key]).strip():
            continue
        short = key[len(prefix) :].lower()
        if short in known:
            continue
        meaning = HOST_ONLY_SETTINGS.get(short)
        if meaning is not None:
            log.warning(
                "app setting %s is read by the Functions host (%s); queued-jobs ignores it",
                key,
                meaning,
            )
        else:
            log.warning(
                "app setting %s is neither read by queued-jobs nor a connection setting of the "
                "Functions host (a typo?); it is ignored. queued-jobs reads %s__ followed by "
                "one of: %s",
                key,
                name,
                ", ".join(sorted(understood, key=str.lower)),
            )
