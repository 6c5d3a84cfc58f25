"""``queued-jobs serve``: the web API (REST, live events) under uvicorn."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ._base import Options, cli, fail, log_format_option, reported, use_log_format

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
    "--demo",
    is_flag=True,
    help="Serve the demo instead of an app: the API, a worker and a sample page with the "
    "bell, on a SQLite file, in development mode (loopback only).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --demo: where it keeps its SQLite file and files (default: a new temporary "
    "directory); the same directory again resumes the demo.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@log_format_option
@click.pass_obj
def serve(
    options: Options,
    app_path: str | None,
    host: str,
    port: int,
    reload: bool,
    demo: bool,
    directory: Path | None,
    log_level: str,
    log_format: str,
) -> None:
    """Serve the web API of APP until SIGTERM or SIGINT.

    Who may call is read from app settings: QUEUED_JOBS_WEB_AUTH names the schemes
    (easy-auth, bearer, api-keys, development); nothing is open without it. See
    docs/web.md. With --demo, serves the demo instead (open http://127.0.0.1:8000/).
    """
    try:
        from ..web.serving import serve as run
        from ..web.serving import serve_demo
    except ImportError as exc:  # the web extra is not installed
        fail(f"the web API needs the web extra: pip install 'queued-jobs[web]' ({exc})")
    use_log_format(log_format, verbose=options.verbose)
    if demo:
        if app_path is not None or reload:
            fail("--demo serves the demo's own app: give no APP and no --reload")
        if port == 0:
            fail("--demo needs a fixed --port: its download links name it")
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="queued-jobs-demo-"))
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"queued-jobs demo: open http://{shown}:{port}/ (the dashboard: /dashboard)")
        click.echo(f"its data: {directory}")
        with reported():
            serve_demo(directory, host=host, port=port, log_level=log_level, log_format=log_format)
        return
    if directory is not None:
        fail("--dir goes with --demo")
    app = options.app(app_path)
    chosen = app_path or options.app_path
    with reported():
        if reload:
            assert chosen is not None  # options.app() refused no app
            run(
                chosen,
                host=host,
                port=port,
                reload=True,
                log_level=log_level,
                log_format=log_format,
            )
        else:
            run(app, host=host, port=port, log_level=log_level, log_format=log_format)
