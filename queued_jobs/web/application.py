"""The one ASGI application of the web API, built from a :class:`~queued_jobs.JobApp`.

Served by ``queued-jobs serve`` (uvicorn), mounted in an application of your own
(``your_app.mount("/jobs-api", create_web_app(app, auth=...))``), or behind the Azure
Functions HTTP trigger of the blueprint: the same code each time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..app import JobApp
from ..telemetry.logs import library_logger
from . import assets
from ._body_limit import BodyLimit
from ._errors import install_error_handlers
from ._runtime import Authenticating, Runtime
from ._trace_context import CallerTraceContext
from .auth import DEVELOPMENT_MODE_HEADER, DEVELOPMENT_MODE_VALUE
from .routes import (
    bulk,
    dashboard,
    dead_letters,
    events,
    files,
    jobs,
    limits,
    me,
    negotiate,
    output,
    schedules,
    sequences,
    stats,
    system,
    workers,
)
from .settings import WebSettings
from .webpubsub import WebPubSub

__all__ = ["create_web_app"]

log = library_logger("queued_jobs.web")


#: The request headers pages of other (allowed) origins may send.
_CORS_HEADERS: Final = ("Authorization", "Content-Type", "Last-Event-ID", "X-API-Key")
_MARK_NAME: Final = DEVELOPMENT_MODE_HEADER.lower().encode()
_MARK_VALUE: Final = DEVELOPMENT_MODE_VALUE.encode()


class _DevelopmentMark:
    """Marks every response, and every log line of the library, as development mode."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((_MARK_NAME, _MARK_VALUE))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


_MARKED_LOGGERS: Final = ("queued_jobs", "uvicorn")


def _mark_development_logs() -> None:
    """Make every log line of the library and of uvicorn say development mode (a record
    factory: logger filters would miss the loggers below the one they are on)."""
    made = logging.getLogRecordFactory()
    if getattr(made, "_queued_jobs_development", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = made(*args, **kwargs)
        if record.name.startswith(_MARKED_LOGGERS):
            record.msg = f"[development mode] {record.msg}"
        return record

    factory._queued_jobs_development = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def create_web_app(
    app: JobApp,
    *,
    auth: Authenticating,
    settings: WebSettings | None = None,
    webpubsub: WebPubSub | None = None,
) -> FastAPI:
    """The web API of ``app``. ``auth`` says who calls (``queued_jobs.web.auth``: nothing
    is open by default); with ``webpubsub``, ``/negotiate`` hands out client URLs of that
    hub (publishing to it is :func:`~queued_jobs.web.webpubsub.add_webpubsub`'s)."""
    chosen = settings or WebSettings()
    runtime = Runtime(app, auth, chosen, webpubsub)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await runtime.close()

    api = FastAPI(
        title="queued-jobs",
        version=__version__,
        summary="Start, follow and steer background jobs.",
        docs_url=None,  # the docs pages would load their scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.runtime = runtime
    api.state.challenge = auth.challenge
    install_error_handlers(api)
    routers = (
        jobs,
        output,
        bulk,
        schedules,
        sequences,
        limits,
        events,
        negotiate,
        stats,
        system,
        workers,
        me,
        files,
        dead_letters,
    )
    for module in (*routers, dashboard, assets):
        api.include_router(module.router)
    api.add_middleware(BodyLimit, limit=chosen.max_body_bytes)
    api.add_middleware(CallerTraceContext)
    if chosen.cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=list(chosen.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(_CORS_HEADERS),
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        )
    if auth.development:
        api.add_middleware(_DevelopmentMark)
        _mark_development_logs()
        log.warning("the web API runs in development mode: anyone can act as anyone")
    return api
