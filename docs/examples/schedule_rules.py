"""Schedule rules: JobFac's examples, their next slots, the DST rule, and a refusal."""

from datetime import UTC, datetime

from queued_jobs.errors import InvalidRule
from queued_jobs.schedules import parse_rule, preview

ZONE = "Europe/Berlin"
NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)
WEEKDAYS = "BYDAY=MO,TU,WE,TH,FR"


def show(title: str, text: str, count: int = 3, after: datetime = NEW_YEAR) -> None:
    rule = parse_rule(text)
    print(f"{title}:")
    for line in rule.text.splitlines():
        print(f"  {line}")
    for slot in preview(rule, ZONE, after, count):
        print(f"    {slot:%a %Y-%m-%d %H:%M %Z}")


show("Weekdays at nine", "cron:0 9 * * MON-FRI")
show("Every 20 minutes", "every:PT20M")
show("Every day at 08:00, in elapsed time", "every:P1D@2026-01-01T08:00")
show("First weekday of the month", f"rrule:FREQ=MONTHLY;{WEEKDAYS};BYSETPOS=1;BYHOUR=9")
show("Last weekday of the month", f"rrule:FREQ=MONTHLY;{WEEKDAYS};BYSETPOS=-1;BYHOUR=17")
show("The 1st and 15th", "rrule:FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=6")
show(
    "Every 20 minutes from 08:00 to 18:00",
    "rrule:FREQ=MINUTELY;INTERVAL=20;BYHOUR=8,9,10,11,12,13,14,15,16,17",
    count=4,
    after=datetime(2026, 1, 5, 16, 30, tzinfo=UTC),
)
november = ",".join(str(day) for day in range(15, 31))
february = ",".join(str(day) for day in range(1, 16))
show(
    "Weekdays from November 15 to February 15",
    "rrule:"
    f"RRULE:FREQ=DAILY;BYMONTH=11;BYMONTHDAY={november};{WEEKDAYS};BYHOUR=7\n"
    f"RRULE:FREQ=DAILY;BYMONTH=12,1;{WEEKDAYS};BYHOUR=7\n"
    f"RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY={february};{WEEKDAYS};BYHOUR=7",
    after=datetime(2026, 2, 12, tzinfo=UTC),
)
# The clocks go from 02:00 to 03:00 on March 29th and from 03:00 back to 02:00 on October 25th.
spring, autumn = datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)
show("02:30 every night, in spring", "cron:30 2 * * *", after=spring)
show("02:30 every night, in autumn", "cron:30 2 * * *", after=autumn)
show(
    "Every hour, in elapsed time, in spring",
    "every:PT1H",
    after=datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
)

try:
    parse_rule("cron:0 0 30 2 *")
except InvalidRule as refused:
    print(f"Refused: {refused}")
