"""Limits in memory: the ``limits`` of ``MemoryJobRepository``.

As the durable stores do, a gate is kept as its JSON document (read back and validated by
every read) under a version counter, with its parked jobs beside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import StorageError
from ..limits.model import Gate, LimitSettings, Waiter
from ..telemetry.logs import library_logger
from ._gates import (
    check_at_most,
    check_gate,
    check_gate_id,
    check_limit_name,
    check_removals,
    check_settings,
    check_waiter,
    check_waiter_count,
    gate_conflict,
    gate_doc,
    gate_name,
    gate_token,
    parse_gate_token,
    settings_conflict,
    settings_doc,
    settings_from_doc,
    stored_gate,
)
from .base import DEFAULT_PAGE_SIZE, Page, check_page_size

__all__ = ["MemoryLimitStore"]

log = library_logger("queued_jobs.limits")


@dataclass(slots=True)
class _Row:
    version: str
    doc: str
    waiters: dict[str, Waiter] = field(default_factory=dict)


class MemoryLimitStore:
    """The :class:`~queued_jobs.limits.store.LimitStore` of one memory repository."""

    def __init__(self) -> None:
        self._gates: dict[tuple[str, str], _Row] = {}
        self._settings: dict[str, tuple[str, str]] = {}
        self._versions = itertools.count(1)

    async def load_gate(self, limit: str, key: str) -> Gate | None:
        gate_id = check_gate_id(limit, key)
        row = self._gates.get(gate_id)
        return None if row is None else stored_gate(*gate_id, row.doc, row.version)

    async def save_gate(
        self,
        gate: Gate,
        *,
        add_waiter: Waiter | None = None,
        remove_waiters: Sequence[str] = (),
    ) -> Gate:
        check_gate(gate)
        if add_waiter is not None:
            check_waiter(add_waiter)
        removed = check_removals(remove_waiters, add_waiter)
        gate_id = (gate.limit, gate.key)
        row = self._gates.get(gate_id)
        if (row.version if row is not None else None) != gate.version:
            raise gate_conflict(gate)
        version = str(next(self._versions))
        waiters = dict(row.waiters) if row is not None else {}
        for job_id in removed:
            waiters.pop(job_id, None)
        if add_waiter is not None:
            waiters[add_waiter.job_id] = add_waiter
        self._gates[gate_id] = _Row(version, gate_doc(gate), waiters)
        return gate.model_copy(update={"version": version})

    async def delete_gate(self, gate: Gate) -> bool:
        check_gate(gate)
        gate_id = (gate.limit, gate.key)
        row = self._gates.get(gate_id)
        if row is None or row.version != gate.version or row.waiters:
            return False
        del self._gates[gate_id]
        return True

    async def first_waiters(self, limit: str, key: str, *, count: int) -> list[Waiter]:
        row = self._gates.get(check_gate_id(limit, key))
        check_waiter_count(count)
        if row is None:
            return []
        return [row.waiters[job_id] for job_id in sorted(row.waiters)[:count]]

    async def count_waiters(self, limit: str, key: str, *, at_most: int) -> int:
        row = self._gates.get(check_gate_id(limit, key))
        check_at_most(at_most)
        return 0 if row is None else min(len(row.waiters), at_most + 1)

    async def list_gates(
        self,
        *,
        limit: str | None = None,
        waiting_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Gate]:
        if limit is not None:
            check_limit_name(limit)
        check_page_size(page_size)
        after = parse_gate_token(continuation)
        items: list[Gate] = []
        skipped: list[str] = []
        last: tuple[str, str] | None = None
        ids = sorted(g for g in self._gates if limit is None or g[0] == limit)
        for gate_id in ids:
            if after is not None and gate_id <= after:
                continue
            row = self._gates[gate_id]
            try:
                gate: Gate | None = stored_gate(*gate_id, row.doc, row.version)
            except StorageError:
                gate = None
            if gate is not None and waiting_only and not gate.has_waiters:
                continue
            if last is not None and len(items) + len(skipped) == page_size:
                return Page(items, gate_token(*last), skipped)
            if gate is None:
                skipped.append(gate_name(*gate_id))
            else:
                items.append(gate)
            last = gate_id
        return Page(items, None, skipped)

    async def load_limit_settings(self, limit: str) -> LimitSettings | None:
        found = self._settings.get(check_limit_name(limit))
        return None if found is None else settings_from_doc(found[1], found[0])

    async def save_limit_settings(self, settings: LimitSettings) -> LimitSettings:
        check_settings(settings)
        found = self._settings.get(settings.limit)
        if (found[0] if found is not None else None) != settings.version:
            raise settings_conflict(settings.limit)
        version = str(next(self._versions))
        self._settings[settings.limit] = (version, settings_doc(settings))
        return settings.model_copy(update={"version": version})

    async def delete_limit_settings(self, limit: str) -> None:
        self._settings.pop(check_limit_name(limit), None)

    async def list_limit_settings(self) -> list[LimitSettings]:
        found: list[LimitSettings] = []
        for limit, (version, doc) in sorted(self._settings.items()):
            try:
                found.append(settings_from_doc(doc, version))
            except StorageError as exc:
                log.warning("the settings of limit %r are left out: %s", limit, exc)
        return found
