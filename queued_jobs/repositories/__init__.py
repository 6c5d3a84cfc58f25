"""Where job records live: the :class:`JobRepository` protocol and its adapters.

``memory`` (tests), ``sqlite`` (the embedded default) and ``azure_table`` (production).
Import an adapter from its module, so that its dependencies load only when used.
"""

from .base import JobQuery, JobRepository, Page

__all__ = ["JobQuery", "JobRepository", "Page"]
