"""What every store does alike with limits' gates and settings (``LimitStore``): the
checks before a write or a read, and the documents they are kept as."""

from __future__ import annotations

from typing import Final

from pydantic import TypeAdapter, ValidationError

from ..errors import InvalidInput, StorageError
from ..limits.model import Gate, LimitSettings, Waiter
from ..limits.store import MAX_WAITERS_READ
from ..models.fields import first_problem
from ..models.waiting import GateKey, LimitName

__all__ = [
    "check_gate",
    "check_gate_id",
    "check_limit_name",
    "check_settings",
    "check_waiter",
    "check_waiter_count",
    "gate_doc",
    "gate_from_doc",
    "settings_doc",
    "settings_from_doc",
]

_NAME: Final = TypeAdapter(LimitName)
_KEY: Final = TypeAdapter(GateKey)
_GATE_FIELDS: Final = {"version"}


def check_limit_name(limit: object) -> str:
    """``limit`` if it can name a limit; else ``InvalidInput``."""
    try:
        return _NAME.validate_python(limit, strict=True)
    except ValidationError:
        raise InvalidInput(
            f"limit name {limit!r:.80} is not valid: up to 63 lowercase letters, digits, "
            "'.', '_' and '-', starting with a letter"
        ) from None


def check_gate_id(limit: object, key: object) -> tuple[str, str]:
    """``(limit, key)`` if they can name a gate; else ``InvalidInput``."""
    name = check_limit_name(limit)
    try:
        return name, _KEY.validate_python(key, strict=True)
    except ValidationError as exc:
        raise InvalidInput(first_problem(exc, f"gate key {key!r:.80}")) from None


def check_gate(gate: object) -> Gate:
    if not isinstance(gate, Gate):
        raise InvalidInput(f"a gate is a Gate, not {type(gate).__name__}")
    return gate


def check_waiter(waiter: object) -> Waiter:
    if not isinstance(waiter, Waiter):
        raise InvalidInput(f"a waiter is a Waiter, not {type(waiter).__name__}")
    return waiter


def check_waiter_count(count: object, what: str = "count") -> int:
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_WAITERS_READ:
        raise InvalidInput(f"{what} is 1 to {MAX_WAITERS_READ}, not {count!r:.40}")
    return count


def check_settings(settings: object) -> LimitSettings:
    if not isinstance(settings, LimitSettings):
        raise InvalidInput(f"limit settings are a LimitSettings, not {type(settings).__name__}")
    return settings


def gate_doc(gate: Gate) -> str:
    """The JSON document a gate is stored as (its version is the store's)."""
    return gate.model_dump_json(exclude=_GATE_FIELDS)


def gate_from_doc(doc: str, version: str) -> Gate:
    """The gate stored as ``doc``; ``StorageError`` if it cannot be read."""
    try:
        gate = Gate.model_validate_json(doc)
    except ValidationError as exc:
        raise StorageError(first_problem(exc, "a stored gate cannot be read")) from None
    return gate.model_copy(update={"version": version})


def settings_doc(settings: LimitSettings) -> str:
    return settings.model_dump_json(exclude=_GATE_FIELDS)


def settings_from_doc(doc: str, version: str) -> LimitSettings:
    try:
        settings = LimitSettings.model_validate_json(doc)
    except ValidationError as exc:
        raise StorageError(first_problem(exc, "stored limit settings cannot be read")) from None
    return settings.model_copy(update={"version": version})
