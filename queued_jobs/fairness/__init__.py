"""Fairness between owners (``docs/limits.md``, "Fairness between owners").

``ExecutionSettings(owner_share=OwnerShare(100))`` keeps at most 100 of one owner's jobs
waiting in the ready queues; the rest wait in the overflow queue, which hosts drain after
the bands, so that a small owner's job never waits behind a large owner's whole backlog.
"""

from .share import OVERFLOW_SUFFIX, SHARE_LIMIT, OwnerShare, is_overflow

__all__ = ["OVERFLOW_SUFFIX", "SHARE_LIMIT", "OwnerShare", "is_overflow"]
