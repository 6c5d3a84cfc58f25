"""``cron:`` rules: a five-field cron expression, evaluated in local wall time by cronsim."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from cronsim import CronSim, CronSimError

from ..errors import InvalidRule, RuleNeverFires
from ._rule import WallClockRule, quote

__all__ = ["CronRule"]

FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELD = re.compile(r"[0-9A-Z*/,#-]+")
_HINTS = {
    "?": "'?' is Quartz syntax: write '*'",
    "H": "'H' (hashed) values are Jenkins syntax, not cron",
    "R": "'R' (random) values are not cron",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
#: The names each field may use: months and weekdays, L (last) and LW (last weekday).
_NAMES: dict[str, tuple[str, ...]] = {
    "minute": (),
    "hour": (),
    "day-of-month": ("L", "LW"),
    "month": _MONTHS,
    "day-of-week": (*_DAYS, "L"),
}
#: Where the "never fires" check starts looking (cron has no start of its own).
_PROBE_FROM = datetime(2000, 1, 1)
_PROBE_YEARS = 50


class CronRule(WallClockRule):
    """Slots at the local wall times a cron expression matches (minute hour day-of-month
    month day-of-week, as Debian cron reads it)."""

    __slots__ = ("expression",)
    kind = "cron"

    def __init__(self, text: str, expression: str) -> None:
        super().__init__(text)
        #: The five fields, as cronsim reads them.
        self.expression = expression

    @classmethod
    def parse(cls, body: str) -> CronRule:
        spec = body.strip()
        if spec.startswith("@"):
            return cls._parse_macro(spec)
        fields = spec.upper().split()
        _check_fields(fields, spec)
        expression = " ".join(fields)
        _check_with_cronsim(fields)
        return cls(f"cron:{expression}", expression)

    @classmethod
    def _parse_macro(cls, spec: str) -> CronRule:
        name = spec.lower()
        if name == "@reboot":
            raise InvalidRule("cron: @reboot is not a schedule (it has no time); give 5 fields")
        if name not in MACROS:
            raise InvalidRule(
                f"cron: unknown macro {quote(spec)}; known: {', '.join(sorted(MACROS))}"
            )
        return cls(f"cron:{name}", MACROS[name])

    def _walls(self, after: datetime, stop: datetime) -> Iterator[datetime]:
        # Naive datetimes: cronsim steps through wall time and knows nothing of offsets,
        # which is what we want: the DST rule is applied afterwards, once, for every kind.
        # cronsim gives up (StopIteration) after 50 years without a match.
        for wall in CronSim(self.expression, after):
            if wall > stop:
                return
            yield wall


def _check_fields(fields: list[str], spec: str) -> None:
    if not fields:
        raise InvalidRule("cron: the expression is empty; give 5 fields: " + " ".join(FIELDS))
    if len(fields) == 6:
        raise InvalidRule(
            f"cron: {quote(spec)} has 6 fields; a seconds field (or a year field) is not "
            "supported: give 5 fields: " + " ".join(FIELDS)
        )
    if len(fields) != 5:
        raise InvalidRule(
            f"cron: {quote(spec)} has {len(fields)} fields; give 5: " + " ".join(FIELDS)
        )
    for name, field in zip(FIELDS, fields, strict=True):
        if not _FIELD.fullmatch(field):
            bad = next(c for c in field if not _FIELD.fullmatch(c))
            hint = _HINTS.get(bad, "fields use digits, names (MON, JAN), * / , - # L W")
            raise InvalidRule(f"cron: the {name} field {quote(field)} has {bad!r}: {hint}")
        for word in re.findall(r"[A-Z]+", field):
            if word not in _NAMES[name]:
                known = ", ".join(_NAMES[name]) or "none: only digits"
                hint = _HINTS.get(word, f"the names it takes are {known}")
                raise InvalidRule(f"cron: the {name} field {quote(field)} has {word!r}: {hint}")


def _check_with_cronsim(fields: list[str]) -> None:
    expression = " ".join(fields)
    try:
        first = next(CronSim(expression, _PROBE_FROM), None)
    except CronSimError as error:
        raise _explain(fields, str(error)) from None
    except (ValueError, IndexError, TypeError) as error:  # anything cronsim did not foresee
        raise InvalidRule(f"cron: cannot read {quote(expression)}: {error}") from None
    if first is None:
        raise RuleNeverFires(
            f"cron: {quote(expression)} never fires: no time matches it in {_PROBE_YEARS} years"
        )


def _explain(fields: list[str], message: str) -> InvalidRule:
    """cronsim's error, as a sentence naming the field and its text."""
    for name, field in zip(FIELDS, fields, strict=True):
        if message == f"Bad {name}":
            if name == "day-of-month" and _days_exist_in_some_month(fields):
                months = "any month" if fields[3] == "*" else f"month {fields[3]}"
                return RuleNeverFires(
                    f"cron: {quote(' '.join(fields))} never fires: day {field} does not "
                    f"exist in {months}"
                )
            return InvalidRule(f"cron: the {name} field {quote(field)} is not valid")
    return InvalidRule(f"cron: cannot read {quote(' '.join(fields))}: {message}")


def _days_exist_in_some_month(fields: list[str]) -> bool:
    """Whether the day-of-month field reads as valid days once any month is allowed: then
    the days themselves were fine, and only the months lacked them."""
    try:
        CronSim(" ".join([*fields[:3], "*", fields[4]]), _PROBE_FROM)
    except (CronSimError, ValueError, IndexError, TypeError):
        return False
    return True
