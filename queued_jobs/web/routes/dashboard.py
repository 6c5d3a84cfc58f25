"""``GET /dashboard``: the operators' page (operators and readers only). What it shows it
reads from the API itself, as the caller, so a reader's page offers no actions and the
server refuses them anyway."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ...errors import AuthenticationUnavailable, NotAuthenticated
from .._runtime import runtime_of
from ..pages import page, refusal

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse, name="dashboard")
async def dashboard(request: Request) -> HTMLResponse:
    try:
        caller = await runtime_of(request).auth.principal(request.headers)
    except AuthenticationUnavailable as exc:
        return refusal(request, 503, "Sign-in is unavailable", str(exc))
    except NotAuthenticated as exc:
        challenge = request.app.state.challenge
        response = refusal(request, 401, "Sign in to see the dashboard", str(exc))
        response.headers["WWW-Authenticate"] = challenge
        return response
    if not caller.sees_all:
        return refusal(
            request,
            403,
            "The dashboard is for operators and readers",
            "Your jobs are under the bell of the application you use.",
        )
    # Who is looking, for the page to say so at once (its script asks ``GET /me`` for the
    # roles; the server refuses a reader's actions whatever the page shows).
    return page(request, "dashboard.html", caller=caller.id)
