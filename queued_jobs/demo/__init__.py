"""``queued-jobs demo``: the product at work on the embedded SQLite default."""

from .scenario import run_demo

__all__ = ["run_demo"]
