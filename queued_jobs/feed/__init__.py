"""Reading the change feed: a reader's place in it (:class:`FeedCursor`), and consumers
that hand every change to a handler once, from a saved place, one process at a time
(:class:`FeedConsumer`)."""

from .consumer import ChangeHandler, FeedConsumer
from .cursor import FeedCursor, replay

__all__ = ["ChangeHandler", "FeedConsumer", "FeedCursor", "replay"]
