"""``queued-jobs serve``: the web API (REST, live events) under uvicorn."""

from __future__ import annotations

import click

from ._base import Options, cli, fail, reported

__all__ = ["serve"]


@cli.command()
@click.argument("app_path", metavar="[APP]", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--reload/--no-reload",
    default=False,
    show_default=True,
    help="Restart when the code changes (development only).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.pass_obj
def serve(
    options: Options, app_path: str | None, host: str, port: int, reload: bool, log_level: str
) -> None:
    """Serve the web API of APP until SIGTERM or SIGINT.

    Who may call is read from app settings: QUEUED_JOBS_WEB_AUTH names the schemes
    (easy-auth, bearer, api-keys, development); nothing is open without it. See
    docs/web.md.
    """
    try:
        from ..web.serving import serve as run
    except ImportError as exc:  # the web extra is not installed
        fail(f"the web API needs the web extra: pip install 'queued-jobs[web]' ({exc})")
    app = options.app(app_path)
    chosen = app_path or options.app_path
    with reported():
        if reload:
            assert chosen is not None  # options.app() refused no app
            run(chosen, host=host, port=port, reload=True, log_level=log_level)
        else:
            run(app, host=host, port=port, log_level=log_level)
