"""The blueprint's HTTP function written for the Functions FastAPI extension
(``azurefunctions-extensions-http-fastapi``), which streams responses.

This module has no ``from __future__ import annotations``: the Python worker reads the
function's parameter and return annotations to see that it takes the extension's types.
"""

from typing import Any

import azure.functions as func

from ..errors import ConfigurationError
from .functions_http import FunctionsWebApi

__all__ = ["register_streaming_http"]


def register_streaming_http(
    blueprint: func.Blueprint, api: FunctionsWebApi, route: str, name: str, methods: list[str]
) -> None:
    try:
        from azurefunctions.extensions.http.fastapi import Request, StreamingResponse
    except ImportError as exc:
        raise ConfigurationError(
            "a streaming web API needs the Functions FastAPI extension: pip install "
            f"azurefunctions-extensions-http-fastapi ({exc})"
        ) from None

    async def http(req: Request) -> StreamingResponse:
        answer: Any = await api.stream(req)
        return answer

    decorated = blueprint.route(route=route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)(
        http
    )
    blueprint.function_name(name)(decorated)
