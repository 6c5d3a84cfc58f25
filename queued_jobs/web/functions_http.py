"""The web API behind an Azure Functions HTTP trigger (what the blueprint's ``http_api``
function calls).

By default the Functions host hands each request over as an ``azure.functions.HttpRequest``
and sends the response only once it is complete, so an event stream there ends soon after
its first events and the client comes straight back with ``Last-Event-ID`` (long polling
that browsers' ``EventSource`` does by itself). With ``streaming=True`` the function takes
the Functions FastAPI extension's request and returns a streamed response instead
(``azurefunctions-extensions-http-fastapi``; see ``docs/web.md`` for what that needs).
"""

from __future__ import annotations

import json

import azure.functions as func
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..app import JobApp
from ..errors import ConfigurationError
from ..telemetry.logs import library_logger
from ._asgi_proxy import streamed_answer
from ._runtime import Authenticating, Runtime
from .application import create_web_app
from .routes.events import BUFFERED_SCOPE_KEY
from .settings import WebSettings
from .webpubsub import WebPubSub

__all__ = ["FunctionsWebApi"]

log = library_logger("queued_jobs.web")


class _UnderPrefix:
    """Serves the app under the host's route prefix (``/api`` by default), marked as
    buffered unless the host streams."""

    def __init__(self, app: ASGIApp, prefix: str, *, buffered: bool) -> None:
        self.app = app
        self.prefix = prefix
        self.marks = {BUFFERED_SCOPE_KEY: True} if buffered else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "root_path": self.prefix, **self.marks}
        await self.app(scope, receive, send)


class FunctionsWebApi:
    """The app's web API for HTTP triggers. Authentication comes from ``auth``, or (when
    ``None``) from app settings, read at the first request: settings that cannot work
    answer every request ``503`` with the reason and log it, while the other functions of
    the app go on."""

    def __init__(
        self,
        app: JobApp,
        *,
        auth: Authenticating | None = None,
        settings: WebSettings | None = None,
        route_prefix: str = "api",
        streaming: bool = False,
    ) -> None:
        """``route_prefix``: the path the API's routes start with, as the host sees it:
        ``host.json``'s ``extensions.http.routePrefix`` (``api`` by default), then the
        blueprint's ``http_route``. ``streaming``: the function is written for the
        Functions FastAPI extension (every HTTP function of the app must then be)."""
        self._app = app
        self._auth = auth
        self._settings = settings
        self._prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
        self.streaming = streaming
        self._middleware: func.AsgiMiddleware | None = None
        self._under: _UnderPrefix | None = None
        self._web: FastAPI | None = None
        self._problem: str | None = None

    def _built(self) -> func.AsgiMiddleware | None:
        if self._under is None and self._problem is None:
            try:
                auth = self._auth
                if auth is None:
                    from .auth import authentication_from_settings

                    auth = authentication_from_settings()
                web = create_web_app(
                    self._app,
                    auth=auth,
                    settings=self._settings,
                    webpubsub=WebPubSub.from_settings(),
                )
            except ConfigurationError as exc:
                self._problem = str(exc)
                log.error("the web API cannot start: %s", exc)
                return None
            self._web = web
            self._under = _UnderPrefix(web, self._prefix, buffered=not self.streaming)
            self._middleware = func.AsgiMiddleware(self._under)  # type: ignore[no-untyped-call]
        return self._middleware

    def _not_set_up(self) -> dict[str, str]:
        message = f"the web API is not set up: {self._problem}"
        return {"code": "not_configured", "message": message}

    async def handle(
        self, request: func.HttpRequest, context: func.Context | None = None
    ) -> func.HttpResponse:
        """Answer a request of the buffered contract (``azure.functions.HttpRequest``)."""
        middleware = self._built()
        if middleware is None:
            body = json.dumps(self._not_set_up())
            return func.HttpResponse(body, status_code=503, mimetype="application/json")
        response: func.HttpResponse = await middleware.handle_async(request, context)
        return response

    async def stream(self, request: Request) -> Response:
        """Answer a request of the streaming contract (a Starlette request, as the
        Functions FastAPI extension hands it over), its answer streamed."""
        self._built()
        if self._under is None:
            return JSONResponse(self._not_set_up(), status_code=503)
        return await streamed_answer(self._under, dict(request.scope), request)

    async def close(self) -> None:
        """Close the connections the API opened (the host never needs to: its process
        ends; tests and embedders do)."""
        if self._web is not None:
            runtime: Runtime = self._web.state.runtime
            await runtime.close()
