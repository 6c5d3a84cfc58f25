"""``queued-jobs demo``: the product on a temporary SQLite store, shown live."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import click

from ._base import cli, console, fail, reported

__all__ = ["demo"]


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo keeps its SQLite file and files (default: a new temporary "
    "directory). Must be empty or not exist yet.",
)
def demo(directory: Path | None) -> None:
    """Run a realistic mix of jobs on the embedded SQLite backend and show them live.

    Zip builds over sample documents (with signed download links), a job that fails twice
    then succeeds, a permanent failure, a refused duplicate, a delayed job, a cancelled
    job and jobs reporting progress, run by a worker in this process. Exits 0 when every
    job ended as it should.
    """
    from ..demo import run_demo

    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="queued-jobs-demo-"))
    elif directory.exists() and any(directory.iterdir()):
        fail(f"{directory} is not empty; give the demo an empty or new directory")
    directory.mkdir(parents=True, exist_ok=True)
    with reported():
        if not asyncio.run(run_demo(directory, console())):
            sys.exit(1)
    console().print(
        "\nSee it in a browser: [bold]queued-jobs serve --demo[/] (or [bold]make demo-web[/]), "
        "then open http://127.0.0.1:8000/ : a page with the end user's bell, and the "
        "operators' dashboard at /dashboard."
    )
