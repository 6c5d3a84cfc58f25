"""What a request to a command job may give (:class:`CommandRequest`), and what a
program gets of the worker's environment."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, model_validator

__all__ = ["DEFAULT_INHERITED", "INHERIT_ALL", "MAX_ARGUMENT", "CommandRequest"]

#: The worker's environment variables a program gets by default: what programs need to
#: run (the search path, the home folder, the locale, the time zone), never the worker's
#: settings and secrets (its storage connection string). ``inherit_env`` names others.
DEFAULT_INHERITED: Final = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER"}
    | {"LOGNAME", "PYTHONPATH", "VIRTUAL_ENV"}
)
#: ``inherit_env=INHERIT_ALL``: the program gets the worker's whole environment.
INHERIT_ALL: Final = "all"
#: The most characters of one argument a request may give.
MAX_ARGUMENT: Final = 32 * 1024


def _text_of(what: str) -> AfterValidator:
    """A value a program gets (an argument, an environment value): no NUL, bounded."""

    def check(value: str) -> str:
        if "\x00" in value:
            raise ValueError(f"{what} must not contain a NUL character")
        if len(value) > MAX_ARGUMENT:
            raise ValueError(f"{what} is at most {MAX_ARGUMENT:,} characters")
        return value

    return AfterValidator(check)


class CommandRequest(BaseModel):
    """What a request to a command job may give: arguments added after the registered
    ones, environment variables, and JSON for a job-aware program (it reads the whole
    request on its standard input). What the registration allows is checked when the job
    is queued, and again when it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    args: list[Annotated[str, _text_of("an argument")]] = Field(default_factory=list)
    env: dict[str, Annotated[str, _text_of("an environment value")]] = Field(default_factory=dict)
    input: JsonValue = None

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, given: object) -> object:
        """No request at all: the command as registered."""
        return {} if given is None else given
