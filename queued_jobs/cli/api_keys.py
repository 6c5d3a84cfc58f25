"""``queued-jobs api-key new``: a key for the web API, and the entry to store for it.

The key is printed once, on the first line of standard output, and kept nowhere; the
second line is the entry (its hash, owner, roles and name) to add to the list in
``QUEUED_JOBS_API_KEYS`` or in the file ``QUEUED_JOBS_API_KEYS_FILE`` names. What to do
with each goes to standard error, so ``| head -1`` gives the key alone. Needs no app.
"""

from __future__ import annotations

import json

import click

from .._cli_views import printable
from ..errors import InvalidInput
from ..web.auth.api_keys import new_api_key
from ..web.auth.principal import Role
from ._base import cli

__all__ = ["api_key"]


@cli.group("api-key")
def api_key() -> None:
    """Make API keys for the web API."""


@api_key.command("new")
@click.option("--owner", required=True, help="Who the key acts as: the owner of its jobs.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice([role.value for role in Role]),
    help="A role of the key, repeatable (default: user; everyone is also a user).",
)
@click.option("--name", help="A name to tell the key apart (where it is used, by whom).")
def new(owner: str, roles: tuple[str, ...], name: str | None) -> None:
    """A new key for OWNER: prints the key (once; it is kept nowhere) and the entry to
    store in QUEUED_JOBS_API_KEYS or its file."""
    try:
        key, stored = new_api_key(owner, frozenset(Role(role) for role in roles), name)
    except InvalidInput as exc:
        raise click.UsageError(printable(str(exc))) from exc
    click.echo("The API key, shown this once (give it to its holder; keep no copy):", err=True)
    click.echo(key)
    click.echo(json.dumps(stored.to_json(), ensure_ascii=True))
    click.echo(
        "Add the entry above to the JSON list in QUEUED_JOBS_API_KEYS, or in the file "
        "QUEUED_JOBS_API_KEYS_FILE names, and restart the web API. Callers send the key "
        "as 'Authorization: ApiKey <key>' or 'X-API-Key: <key>'.",
        err=True,
    )
