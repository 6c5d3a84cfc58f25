"""What every store does alike with limits' gates and settings (``LimitStore``): the
checks before a write or a read, and the documents they are kept as."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydantic import TypeAdapter, ValidationError

from ..errors import ConcurrencyConflict, InvalidInput, StorageError
from ..limits.model import Gate, LimitSettings, Waiter
from ..limits.store import MAX_WAITERS_READ, MAX_WAITERS_REMOVED
from ..models.fields import first_problem
from ..models.job import is_job_id
from ..models.waiting import GateKey, LimitName

__all__ = [
    "check_at_most",
    "check_gate",
    "check_gate_id",
    "check_limit_name",
    "check_removals",
    "check_settings",
    "check_waiter",
    "check_waiter_count",
    "gate_conflict",
    "gate_doc",
    "gate_from_doc",
    "gate_name",
    "gate_token",
    "parse_gate_token",
    "settings_conflict",
    "settings_doc",
    "settings_from_doc",
    "stored_gate",
    "waiter_doc",
    "waiter_from_doc",
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


def check_removals(remove_waiters: object, add_waiter: Waiter | None) -> list[str]:
    """The job ids whose rows a save removes: each once, in the order given, without the
    one it adds (a job both removed and added stays parked); ``InvalidInput`` for what is
    not a sequence of job ids, or for more than :data:`MAX_WAITERS_REMOVED`."""
    if isinstance(remove_waiters, str) or not isinstance(remove_waiters, Sequence):
        raise InvalidInput(
            f"remove_waiters is a sequence of job ids, not {type(remove_waiters).__name__}"
        )
    chosen: dict[str, None] = {}
    for job_id in remove_waiters:
        if not isinstance(job_id, str) or not is_job_id(job_id):
            raise InvalidInput(f"{job_id!r:.80} is not a job id (29 lowercase hex digits)")
        chosen[job_id] = None
    if len(chosen) > MAX_WAITERS_REMOVED:
        raise InvalidInput(
            f"one save removes at most {MAX_WAITERS_REMOVED} waiters, not {len(chosen)}; "
            "remove the others with the next save"
        )
    if add_waiter is not None:
        chosen.pop(add_waiter.job_id, None)
    return list(chosen)


def check_at_most(at_most: object) -> int:
    if not isinstance(at_most, int) or isinstance(at_most, bool) or at_most < 0:
        raise InvalidInput(f"at_most is 0 or more, not {at_most!r:.40}")
    return at_most


def gate_name(limit: str, key: str) -> str:
    """How errors and ``Page.skipped`` name a gate: ``<limit>/<key>``, or ``<limit>`` for
    the key ``""`` (a limit's name holds no ``/``, so the first one ends it)."""
    return f"{limit}/{key}" if key else limit


def gate_conflict(gate: Gate) -> ConcurrencyConflict:
    return ConcurrencyConflict(gate_name(gate.limit, gate.key), kind="gate")


def settings_conflict(limit: str) -> ConcurrencyConflict:
    return ConcurrencyConflict(limit, kind="the settings of limit")


def gate_token(limit: str, key: str) -> str:
    """A listing's continuation token after the gate of ``limit`` for ``key`` (the stores
    that list gates by limit and key)."""
    return f"{limit}\n{key}"


def parse_gate_token(continuation: str | None) -> tuple[str, str] | None:
    """The limit and key a :func:`gate_token` names; ``InvalidInput`` for another."""
    if continuation is None:
        return None
    if isinstance(continuation, str) and continuation.count("\n") == 1:
        limit, key = continuation.split("\n")
        try:
            return check_gate_id(limit, key)
        except InvalidInput:
            pass
    raise InvalidInput(f"{continuation!r:.80} is not a continuation token of gates")


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


def stored_gate(limit: str, key: str, doc: str, version: str) -> Gate:
    """The gate of ``limit`` for ``key`` stored as ``doc``; ``StorageError`` if it cannot
    be read, or is another gate's."""
    gate = gate_from_doc(doc, version)
    if (gate.limit, gate.key) != (limit, key):
        raise StorageError(
            f"the stored gate {gate_name(limit, key)!r:.300} holds the document of gate "
            f"{gate_name(gate.limit, gate.key)!r:.300}"
        )
    return gate


def waiter_doc(waiter: Waiter) -> str:
    return waiter.model_dump_json()


def waiter_from_doc(job_id: str, doc: str) -> Waiter:
    """The waiter stored for ``job_id`` as ``doc``; ``StorageError`` if it cannot be read
    (or is another job's)."""
    try:
        waiter = Waiter.model_validate_json(doc)
    except ValidationError as exc:
        problem = first_problem(exc, f"the stored waiter {job_id} cannot be read")
        raise StorageError(f"{problem}; remove it with save_gate(remove_waiters=...)") from None
    if waiter.job_id != job_id:
        raise StorageError(f"the stored waiter {job_id} holds the document of {waiter.job_id}")
    return waiter


def settings_doc(settings: LimitSettings) -> str:
    return settings.model_dump_json(exclude=_GATE_FIELDS)


def settings_from_doc(doc: str, version: str) -> LimitSettings:
    try:
        settings = LimitSettings.model_validate_json(doc)
    except ValidationError as exc:
        raise StorageError(first_problem(exc, "stored limit settings cannot be read")) from None
    return settings.model_copy(update={"version": version})
