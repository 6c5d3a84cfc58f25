"""Every error the API answers with: JSON ``{"code", "message"}`` with a stable ``code``
and a message a person can act on. No stack trace ever leaves the server: an unexpected
error is logged with an id, and the response names only that id."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (
    AuthenticationUnavailable,
    ConcurrencyConflict,
    ConfigurationError,
    CorruptJobRecord,
    CorruptScheduleRecord,
    CorruptSequenceRecord,
    DuplicateJob,
    DuplicateSchedule,
    EnqueueFailed,
    InvalidDownloadLink,
    InvalidInput,
    InvalidTransition,
    JobNotFound,
    LimitNotFound,
    NotAuthenticated,
    PayloadTooDeep,
    PayloadTooLarge,
    PermissionDenied,
    QueuedJobsError,
    QueueMessageNotFound,
    ScheduleNotFound,
    SequenceNotFound,
    SlotAlreadyFired,
    StorageUnavailable,
    StoredFileNotFound,
    UnknownJobType,
)
from ..telemetry.logs import library_logger

__all__ = [
    "FieldsInvalid",
    "NotConfigured",
    "error_response",
    "field_errors",
    "install_error_handlers",
]

log = library_logger("queued_jobs.web")


class NotConfigured(QueuedJobsError):
    """A part of the API this app does not use (answered ``404``)."""


class FieldsInvalid(InvalidInput):
    """Input that does not validate, field by field (answered ``422`` with ``fields``)."""

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        self.fields = fields
        super().__init__(message)


#: Our errors, most specific first: (error type, HTTP status, code).
_MAPPED: Final[Sequence[tuple[type[QueuedJobsError], int, str]]] = (
    (AuthenticationUnavailable, 503, "authentication_unavailable"),
    (NotAuthenticated, 401, "not_authenticated"),
    (PermissionDenied, 403, "permission_denied"),
    (InvalidDownloadLink, 403, "invalid_download_link"),
    (JobNotFound, 404, "job_not_found"),
    (ScheduleNotFound, 404, "schedule_not_found"),
    (SequenceNotFound, 404, "sequence_not_found"),
    (LimitNotFound, 404, "limit_not_found"),
    (UnknownJobType, 404, "unknown_job_type"),
    (StoredFileNotFound, 404, "file_not_found"),
    (QueueMessageNotFound, 404, "message_not_found"),
    (DuplicateJob, 409, "duplicate_job"),
    (DuplicateSchedule, 409, "duplicate_schedule"),
    (SlotAlreadyFired, 409, "slot_already_fired"),
    (InvalidTransition, 409, "invalid_transition"),
    (ConcurrencyConflict, 409, "conflict"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (PayloadTooDeep, 422, "payload_too_deep"),
    (InvalidInput, 422, "invalid_input"),
    (StorageUnavailable, 503, "storage_unavailable"),
    (EnqueueFailed, 503, "enqueue_failed"),
    (CorruptJobRecord, 500, "corrupt_job_record"),
    (CorruptScheduleRecord, 500, "corrupt_schedule_record"),
    (CorruptSequenceRecord, 500, "corrupt_sequence_record"),
    (NotConfigured, 404, "not_configured"),
    (ConfigurationError, 503, "misconfigured"),
)
_HTTP_CODES: Final = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status, headers=headers)


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """pydantic's errors as ``{"field", "message"}`` pairs (``field`` dotted, ``body.`` and
    ``query.`` first as FastAPI places them)."""
    found = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        found.append({"field": location, "message": message})
    return found


def _our_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueuedJobsError)
    mapped = next(((s, c) for kind, s, c in _MAPPED if isinstance(exc, kind)), None)
    if mapped is None:
        return _unexpected(request, exc)
    status, code = mapped
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, NotAuthenticated) and status == 401:
        headers["WWW-Authenticate"] = request.app.state.challenge
    if status == 503:
        headers["Retry-After"] = "5"
    if isinstance(exc, DuplicateJob):
        extra["existing_job_id"] = exc.existing_job_id
    if isinstance(exc, DuplicateSchedule):  # the name is the same owner's: theirs to see
        extra["existing_schedule_id"] = exc.existing_schedule_id
    if isinstance(exc, FieldsInvalid):
        code, extra["fields"] = "invalid_request", exc.fields
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    return error_response(status, code, str(exc), headers, **extra)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = secrets.token_hex(6)
    log.error(
        "%s %s failed (incident %s)", request.method, request.url.path, incident, exc_info=exc
    )
    return error_response(
        500, "internal_error", f"the server failed; its log names this incident {incident}"
    )


def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = field_errors(exc.errors())
    return error_response(
        422, "invalid_request", "the request does not validate: see fields", fields=fields
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:  # a body that is not JSON (or not text): a request refused
        fields = [{"field": "body", "message": "the body is not JSON text"}]
        return error_response(422, "invalid_request", "the body is not JSON text", fields=fields)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(QueuedJobsError, _our_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
