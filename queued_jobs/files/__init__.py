"""Stored files for jobs: a blob container on Azure, a directory on the embedded backend."""

from .base import MAX_LINK_LIFETIME, DownloadLink, FileStore, StoredFile
from .local import LocalFileStore
from .memory import MemoryFileStore

__all__ = [
    "MAX_LINK_LIFETIME",
    "DownloadLink",
    "FileStore",
    "LocalFileStore",
    "MemoryFileStore",
    "StoredFile",
]
