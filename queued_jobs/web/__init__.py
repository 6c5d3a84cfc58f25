"""The web API: one ASGI application (FastAPI) over a :class:`~queued_jobs.JobApp`, with
live job events and access control. Needs the ``web`` extra
(``pip install 'queued-jobs[web]'``)."""

from .application import create_web_app
from .auth import DEVELOPMENT_MODE_HEADER, Authenticator, Principal, Role
from .settings import WebSettings

__all__ = [
    "DEVELOPMENT_MODE_HEADER",
    "Authenticator",
    "Principal",
    "Role",
    "WebSettings",
    "create_web_app",
]
