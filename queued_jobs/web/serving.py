"""Serving the web API with uvicorn (``queued-jobs serve``), authentication read from app
settings (``QUEUED_JOBS_WEB_AUTH`` and the settings of each scheme). A server started so
saves its presence while it serves (``_presence``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from ..app import JobApp, load_app
from ..errors import ConfigurationError
from ._presence import keep_presence
from .application import create_web_app
from .auth import authentication_from_settings
from .settings import WebSettings
from .webpubsub import WebPubSub

__all__ = ["APP_ENV", "from_environment", "serve", "serve_demo", "web_app_from_settings"]

#: The environment variable naming the JobApp (``module:attribute``).
APP_ENV = "QUEUED_JOBS_APP"
_GRACE_SECONDS = 5


def _log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's logging: its own for text; for JSON, its loggers hand their records to
    the root logger's JSON handler (``--log-format json``)."""
    if log_format != "json":
        return LOGGING_CONFIG
    passed = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {name: dict(passed) for name in ("uvicorn", "uvicorn.access")},
    }


def web_app_from_settings(
    app: JobApp, *, environ: Mapping[str, str] | None = None, settings: WebSettings | None = None
) -> FastAPI:
    """The web API of ``app``, authenticating as the app settings say
    (``ConfigurationError`` if they say nothing: no server is open by default), with the
    Web PubSub hub they name, if any."""
    return create_web_app(
        app,
        auth=authentication_from_settings(environ),
        settings=settings or WebSettings.from_settings(environ),
        webpubsub=WebPubSub.from_settings(environ),
    )


def from_environment() -> FastAPI:
    """The web API of the app ``QUEUED_JOBS_APP`` names (uvicorn's factory, for
    ``--reload``)."""
    path = os.environ.get(APP_ENV)
    if not path:
        raise ConfigurationError(f"set {APP_ENV} to the app's module:attribute")
    web = web_app_from_settings(load_app(path))
    keep_presence(web)
    return web


def serve(
    app: JobApp | str,
    *,
    host: str,
    port: int,
    reload: bool = False,
    log_level: str = "info",
    log_format: str = "text",
) -> None:
    """Serve until signalled. ``app`` is a JobApp, or with ``reload`` its import path."""
    if reload:
        if not isinstance(app, str):
            raise ConfigurationError("--reload needs the app's import path (module:attribute)")
        os.environ[APP_ENV] = app
        _run(
            f"{__name__}:from_environment",
            host,
            port,
            log_level,
            log_format,
            factory=True,
            reload=True,
        )
        return
    web = web_app_from_settings(load_app(app) if isinstance(app, str) else app)
    keep_presence(web)
    _run(web, host, port, log_level, log_format)


def _run(
    web: FastAPI | str, host: str, port: int, log_level: str, log_format: str, **more: Any
) -> None:
    """uvicorn serving ``web`` until signalled, logging as ``log_format`` says."""
    uvicorn.run(
        web,
        host=host,
        port=port,
        log_level=log_level,
        log_config=_log_config(log_format),
        timeout_graceful_shutdown=_GRACE_SECONDS,
        **more,
    )


def serve_demo(
    directory: Path, *, host: str, port: int, log_level: str = "info", log_format: str = "text"
) -> None:
    """Serve the demo (:mod:`queued_jobs.demo.web`) from ``directory`` until signalled."""
    from ..demo.web import check_loopback, demo_web_app

    check_loopback(host)
    shown = f"[{host}]" if ":" in host else host
    web = demo_web_app(directory, base_url=f"http://{shown}:{port}")
    _run(web, host, port, log_level, log_format)
