"""The app's HTML pages: a small template of the package, its asset addresses filled in,
with headers that keep a page to its own origin's scripts and styles."""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse

from .assets import package_assets

__all__ = ["PAGE_HEADERS", "page", "refusal"]

_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'{connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Scripts, styles and calls of the page's own origin only; no framing by other sites.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": _POLICY.format(connect=""),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def _template(package: str, name: str) -> str:
    return (resources.files(package) / name).read_text(encoding="utf-8")


def root_of(request: Request) -> str:
    """Where the app is mounted (``""`` at the root of a server)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def page(
    request: Request,
    name: str,
    *,
    package: str = "queued_jobs.web.templates",
    status: int = 200,
    connect: Sequence[str] = (),
    **values: str,
) -> HTMLResponse:
    """The template ``name`` of ``package`` with ``{base}`` (the app's root), ``{assets}``
    (the immutable asset root) and ``values`` filled in, each escaped for HTML; its calls
    may go to ``connect`` (origins) besides its own."""
    root = root_of(request)
    fields = {
        "base": root,
        "assets": f"{root}/assets/{package_assets().digest}",
        **values,
    }
    text = _template(package, name).format_map({k: html.escape(v) for k, v in fields.items()})
    headers = dict(PAGE_HEADERS)
    if connect:
        others = "".join(f" {origin}" for origin in connect)
        headers["Content-Security-Policy"] = _POLICY.format(connect=others)
    return HTMLResponse(text, status, headers=headers)


def refusal(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """A page saying why the caller cannot see what they asked for."""
    return page(request, "refusal.html", status=status, title=title, message=message)
