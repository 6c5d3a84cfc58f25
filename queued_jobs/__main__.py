"""``python -m queued_jobs`` / the ``queued-jobs`` console script."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import click

from . import __version__
from .app import load_app
from .errors import ConfigurationError
from .worker import WorkerSettings, run_until_signalled


@click.group()
@click.version_option(__version__, prog_name="queued-jobs")
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def cli(verbose: bool) -> None:
    """queued-jobs: background jobs on Azure Storage queues, tracked end to end."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.argument("app_path", metavar="APP")
@click.option("-c", "--concurrency", default=8, show_default=True, help="Jobs run at once.")
@click.option(
    "--grace", default=30.0, show_default=True, help="Seconds running jobs get to finish on stop."
)
@click.option("--identity", default=None, help="Worker identity (default host:pid).")
def worker(app_path: str, concurrency: int, grace: float, identity: str | None) -> None:
    """Run jobs of APP (module:attribute of a JobApp) until SIGTERM or SIGINT."""
    try:
        app = load_app(app_path)
        settings = WorkerSettings(concurrency=concurrency, shutdown_grace=timedelta(seconds=grace))
    except (ConfigurationError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc

    async def serve() -> None:
        host = app.worker(settings, identity=identity)
        try:
            await run_until_signalled(host)
        finally:
            await host.close()

    asyncio.run(serve())


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
