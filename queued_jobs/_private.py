"""Folders and files only their owner can use: what the embedded backend creates.

The embedded database, its write-ahead log and stored files hold jobs' data and signed
links, so another local user must not read them. Where the user has chosen looser modes
(a folder that already exists, or a mode given to a store), theirs are kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["PRIVATE_DIRECTORY", "PRIVATE_FILE", "make_directories"]

#: A folder the embedded backend creates: its owner alone can list, enter or change it.
PRIVATE_DIRECTORY: Final = 0o700
#: A file the embedded backend creates: its owner alone can read or write it.
PRIVATE_FILE: Final = 0o600


def make_directories(path: Path, mode: int = PRIVATE_DIRECTORY) -> None:
    """Like ``path.mkdir(parents=True, exist_ok=True)``, except that every folder it
    creates, the parents included, gets ``mode`` (less the umask); folders that exist
    keep theirs. Raises ``FileExistsError`` if ``path`` or a parent is not a folder."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            if not folder.is_dir():  # a file, or a link to nowhere, in the way
                raise
