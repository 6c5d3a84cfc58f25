"""Naming rules shared by the models and the queue adapters (Azure Storage queue rules)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_QUEUE_NAME", "queue_name_problem"]

#: Azure allows 63 characters; the ``-poison`` queue needs seven of them.
MAX_QUEUE_NAME: Final = 56
_QUEUE_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]*[a-z0-9]$")


def queue_name_problem(name: str, *, max_len: int = MAX_QUEUE_NAME) -> str | None:
    """Why ``name`` can't be a queue name, or ``None`` if it can."""
    if 3 <= len(name) <= max_len and _QUEUE_NAME.match(name):
        return None
    return (
        f"queue name {name!r} is not valid: use 3-{max_len} lowercase letters, digits and "
        "single hyphens, starting and ending with a letter or digit"
    )
