"""Running the command line in-process in tests: ``invoke("list", "--json")``."""

from __future__ import annotations

from typing import Protocol

from click.testing import Result

__all__ = ["Invoke"]


class Invoke(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...
