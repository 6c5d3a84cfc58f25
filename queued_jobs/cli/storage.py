"""``queued-jobs create-storage``: the app's table (or schema) and queues."""

from __future__ import annotations

import click

from ._base import Options, cli, with_client

__all__ = ["create_storage"]


@cli.command("create-storage")
@click.pass_obj
def create_storage(options: Options) -> None:
    """Create the app's job table (or schema) and every queue it uses, if missing."""
    app = options.app()
    with_client(app, lambda client: client.create_storage())
    bands = ", ".join(app.queues.bands)
    click.echo(
        f"storage ready: jobs table and queues {bands} (with their -poison and -deadletter queues)"
    )
