"""Carry a caller's W3C trace context (``traceparent``, ``tracestate``) into the jobs it
queues, when nothing else (an OpenTelemetry server instrumentation) has made a span of
the request: the job's trace then continues the caller's."""

from __future__ import annotations

from typing import Final

from opentelemetry import context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CallerTraceContext"]

_W3C: Final = TraceContextTextMapPropagator()
_HEADERS: Final = {b"traceparent": "traceparent", b"tracestate": "tracestate"}
#: Longer headers than the W3C allows are not read.
_LONGEST: Final = 1024


class CallerTraceContext:
    """ASGI middleware: the request's trace context is current while it is handled (a
    malformed one is ignored, as the W3C propagator ignores it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or trace.get_current_span().get_span_context().is_valid:
            await self.app(scope, receive, send)
            return
        carrier = {
            _HEADERS[name]: value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _HEADERS and len(value) <= _LONGEST
        }
        if "traceparent" not in carrier:
            await self.app(scope, receive, send)
            return
        token = context.attach(_W3C.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
