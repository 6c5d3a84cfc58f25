"""Translate Azure SDK errors into queued-jobs errors at the adapter boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from ..errors import ConfigurationError, QueuedJobsError, StorageError, StorageUnavailable

__all__ = ["error_code", "translated"]


def error_code(exc: HttpResponseError) -> str:
    """The storage service's error code (``EntityAlreadyExists``...), or ``""``.

    The SDKs give known codes as enums (whose ``str()`` is the member's name): take the value.
    """
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise Azure errors escaping the block as :class:`QueuedJobsError` subclasses.

    Adapters catch the errors that carry meaning for them (404, 409, 412) inside the
    block; whatever is left is a failure of the store itself.
    """
    try:
        yield
    except QueuedJobsError:
        raise
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(f"{action}: could not reach Azure Storage: {exc}") from exc
    except ClientAuthenticationError as exc:
        if exc.response is None:  # no request was sent: the credential found no token
            raise ConfigurationError(
                f"{action}: could not get a Microsoft Entra token for Azure Storage; check "
                f"the identity settings (or sign in with `az login` locally): {exc.message}"
            ) from exc
        raise ConfigurationError(
            f"{action}: Azure Storage refused the credentials; check the connection "
            f"string or the identity's role assignments: {exc.message}"
        ) from exc
    except HttpResponseError as exc:
        status = exc.status_code or "no status"
        raise StorageError(
            f"{action}: Azure Storage answered {status} {error_code(exc)}: {exc.message}"
        ) from exc
