"""The W3C trace context a job carries (:class:`TraceContext`), from whoever queued it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

__all__ = ["TRACESTATE_LIMIT", "CarriedTrace", "TraceContext"]

#: The longest ``tracestate`` kept: the W3C limit of 32 members fits in it.
TRACESTATE_LIMIT = 512


class TraceContext(BaseModel):
    """The ``traceparent`` (and ``tracestate``) headers of the span that queued a job, as
    W3C Trace Context writes them: the job's attempts are children of that span, so one
    trace shows the job from the request that queued it to its result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``version-traceid-parentid-flags``, lowercase hex (version ``00``).
    traceparent: Annotated[str, Field(pattern=r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")]
    tracestate: Annotated[
        str | None,
        Field(
            max_length=TRACESTATE_LIMIT,
            pattern=r"^[\x20-\x7e]*$",
            exclude_if=lambda state: state is None,  # most contexts have none
        ),
    ] = None

    @property
    def trace_id(self) -> str:
        """The trace's id: 32 hex digits."""
        return self.traceparent[3:35]

    @property
    def span_id(self) -> str:
        """The id of the span that queued the job: 16 hex digits."""
        return self.traceparent[36:52]


def _trace_or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> TraceContext | None:
    """A trace context as stored, or none for one that is not (written by another
    producer, say): a record is never unreadable for its trace context."""
    try:
        found: TraceContext | None = handler(value)
    except ValidationError:
        return None
    return found


#: The trace context a record carries: ``None`` when it has none, or none it can read.
CarriedTrace = Annotated[TraceContext | None, WrapValidator(_trace_or_none)]
