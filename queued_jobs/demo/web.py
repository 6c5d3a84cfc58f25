"""``queued-jobs serve --demo``: the web API, a worker and a sample page in one process, on
a SQLite file of the demo's, in development mode.

The sample page (``/``) is an application's page as its end user sees it: buttons that
start jobs (a zip of the user's invoices, a report with progress, a flaky and a broken
job) and the bell in the corner. The dashboard (``/dashboard``) is the operator's side.
Development mode trusts every caller as whoever they say they are, so the demo listens on
the loopback interface only.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from ..errors import ConfigurationError
from ..telemetry.logs import library_logger
from ..web import create_web_app
from ..web.auth import Authentication, DevelopmentAuth, Role
from ..web.auth.development import DEVELOPMENT
from ..web.pages import page
from ..web.webpubsub import add_webpubsub
from ..worker import WorkerSettings
from .jobs import demo_app, upload_sample_documents

__all__ = ["DEMO_USERS", "check_loopback", "demo_web_app"]

log = library_logger("queued_jobs.demo")

#: The end users the sample page can act as (each has sample documents of their own).
DEMO_USERS: Final = ("ada", "grace")
#: Seconds a zip waits per file: the sample documents are few and small, and a zip that
#: ends at once would show nothing of how the bell follows a job.
ZIP_PACE: Final = 0.4
_WORKER = WorkerSettings(
    concurrency=4, poll_max=timedelta(milliseconds=200), shutdown_grace=timedelta(seconds=3)
)


def check_loopback(host: str) -> None:
    """Refuse to serve the demo beyond this machine (``ConfigurationError``)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            f"the demo runs in development mode (anyone who reaches it acts as anyone), so "
            f"it listens on the loopback interface only, not {host!r}; use --host 127.0.0.1"
        )


def demo_web_app(directory: Path, *, base_url: str) -> FastAPI:
    """The demo's web app on a SQLite file in ``directory``, for a server reached at
    ``base_url`` (where download links point): the API, the dashboard, the sample page at
    ``/``, and a worker running while it serves."""
    directory.mkdir(parents=True, exist_ok=True)
    app, documents = demo_app(
        directory, files_url=f"{base_url.rstrip('/')}/files", zip_pace=ZIP_PACE
    )
    auth = DevelopmentAuth(DEVELOPMENT, user="operator", roles=frozenset({Role.OPERATOR}))
    # With a Web PubSub hub in the app settings, the worker publishes to it and the page's
    # bell listens there instead of on the event stream.
    pubsub = add_webpubsub(app)
    web = create_web_app(app, auth=Authentication([auth]), webpubsub=pubsub)
    transport = "sse" if pubsub is None else "webpubsub"
    sockets = () if pubsub is None else (pubsub.socket_origin,)
    inner = web.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with inner(served):
            async with app.client() as client:
                await client.create_storage()
            await upload_sample_documents(documents)
            worker = app.worker(_WORKER)
            running = asyncio.create_task(worker.run(), name="queued-jobs demo worker")
            log.info(
                "the demo's sample page: %s/ ; its dashboard: %s/dashboard", base_url, base_url
            )
            try:
                yield
            finally:
                worker.stop()
                await running
                await worker.close()
                await documents.close()

    web.router.lifespan_context = lifespan

    @web.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def sample_page(request: Request) -> HTMLResponse:
        return page(
            request, "page.html", package="queued_jobs.demo", connect=sockets, transport=transport
        )

    return web
