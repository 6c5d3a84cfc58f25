"""The messages that wake workers: the :class:`JobQueue` protocol and its adapters.

``memory`` (tests), ``sqlite`` (the embedded default) and ``azure_queue`` (production).
"""

from .base import JobQueue, PeekedMessage, QueueBroker, QueueMessage

__all__ = ["JobQueue", "PeekedMessage", "QueueBroker", "QueueMessage"]
