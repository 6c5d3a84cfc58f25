"""What a command job's result holds: how its program exited, what it reported, and where
its whole output is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, JsonValue

from ..models.job import UtcDatetime

__all__ = ["CommandResult", "StoredOutput"]


class StoredOutput(BaseModel):
    """An attempt's whole output, kept in a file store, and a link to download it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    container: str
    name: str
    size: int
    url: str
    expires_at: UtcDatetime


class CommandResult(BaseModel):
    """The result of a command job whose program succeeded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The program's exit code (one its command counts as success).
    exit_code: int
    #: What a job-aware program reported with ``::result`` (``None`` if nothing).
    result: JsonValue = None
    #: How many characters of output the program printed (on the streams captured).
    output_length: int = 0
    #: The whole output, when the command keeps it in a file store.
    output: StoredOutput | None = None
    #: The local file the output was written to, when the command writes one.
    output_file: str | None = None
