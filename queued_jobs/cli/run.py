"""``queued-jobs worker``: run jobs until signalled."""

from __future__ import annotations

from datetime import timedelta

import click

from ..models import Priority
from ..worker import WorkerSettings, run_until_signalled
from ..worker.process import run_bounded
from ..worker.settings import DEFAULT_SCHEDULE_INTERVAL
from ._base import Options, cli, log_format_option, reported, use_log_format
from ._types import priority_list

__all__ = ["worker"]


@cli.command()
@click.argument("app_path", metavar="[APP]", required=False)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Jobs run at once.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds running jobs get to finish on stop; then they are halted, and the worker "
    "exits within the execution settings' stop_timeout (5 s by default) and 2 s more.",
)
@click.option("--identity", default=None, help="Worker identity (default host:pid).")
@click.option(
    "--bands",
    metavar="BANDS",
    callback=priority_list,
    help="Only these priority bands, comma-separated: high, normal, low (default: all).",
)
@click.option(
    "--schedules/--no-schedules",
    default=True,
    show_default=True,
    help="Fire the schedules due, every 10 s (any number of workers may: each slot fires once).",
)
@log_format_option
@click.pass_obj
def worker(
    options: Options,
    app_path: str | None,
    concurrency: int,
    grace: float,
    identity: str | None,
    bands: frozenset[Priority] | None,
    schedules: bool,
    log_format: str,
) -> None:
    """Run jobs until SIGTERM or SIGINT.

    APP (module:attribute of a JobApp) defaults to the global --app.
    """
    use_log_format(log_format, verbose=options.verbose)
    app = options.app(app_path)
    settings = WorkerSettings(
        concurrency=concurrency,
        shutdown_grace=timedelta(seconds=grace),
        bands=bands or frozenset(),
        schedule_interval=DEFAULT_SCHEDULE_INTERVAL if schedules else None,
    )

    async def serve() -> None:
        host = app.worker(settings, identity=identity)
        try:
            await run_until_signalled(host)
        finally:
            await host.close()

    with reported():
        run_bounded(serve())
