"""Schedules: ``@app.function(schedule=toolkit.Period(hours=1))`` or ``schedule=toolkit.Cron("0 9 * * 1-5")``.

A schedule is inert data recorded at decoration time and validated there (a bad cron
expression names the field).  `next_run` is the one clock rule every place shares: `toolkit
serve` fires at it, `toolkit deploy` prints it, and `to_aws` turns the schedule into the
EventBridge Scheduler expression that fires it on AWS.

Overlap: every due time starts a run, even if the previous run is still going (runs are
ordinary inputs of the function, bounded by its ``max_containers``, as on the platform and as
EventBridge Scheduler does).  Times missed while nothing was running (serve stopped) are not
replayed.  A `Period` counts from when its schedule started (serve start or deploy); a `Cron`
follows the wall clock of its time zone, daylight-saving changes included.

Front door (``runtime.FRONT_DOORS``): the SDK imports `Period`, `Cron` and the rules the SDK,
``toolkit serve`` and the deploy share; `__all__` is what it offers.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Union

from runtime.errors import InvalidError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.manifest import FunctionEntry

__all__ = ["Cron", "Period", "Schedule", "check_schedule", "schedule_from_dict", "schedule_lines",
           "scheduled_without_arguments"]

_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}  # {"Jan": 1, ...}
_DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
_AWS_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    """One of the five cron fields: its name, its range, and the names it accepts."""

    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, {k.upper(): v for k, v in _MONTHS.items()}),
    _Field("day of week", 0, 7, _DAYS),  # 7 is Sunday too, as in Vixie cron
)


class Period:
    """Run every fixed interval, counted from when the schedule starts (serve start, deploy).

    >>> toolkit.Period(hours=1, minutes=30)
    """

    def __init__(self, *, years: int = 0, months: int = 0, weeks: int = 0, days: int = 0, hours: int = 0,
                 minutes: int = 0, seconds: float = 0) -> None:
        parts = {"years": years, "months": months, "weeks": weeks, "days": days, "hours": hours,
                 "minutes": minutes, "seconds": seconds}
        for name, value in parts.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidError(f"Period({name}={value!r}) must be a number >= 0, e.g. Period({name}=1).")
            if name != "seconds" and not float(value).is_integer():
                raise InvalidError(f"Period({name}={value!r}) must be whole; use a smaller unit for fractions.")
        self.parts = {k: v for k, v in parts.items() if v}
        if not self.parts:
            raise InvalidError("Period() needs an interval above zero, e.g. toolkit.Period(minutes=5).")

    def __repr__(self) -> str:
        return "Period(" + ", ".join(f"{k}={v!r}" for k, v in self.parts.items()) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Period) and other.parts == self.parts

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.parts.items())))

    def next_run(self, after: datetime, start: datetime | None = None) -> datetime:
        """The first run strictly after ``after``: ``start`` plus a whole number of periods."""
        run = start or after
        while run <= after:
            run = self._add(run)
        return run

    def _add(self, when: datetime) -> datetime:
        months = int(self.parts.get("years", 0)) * 12 + int(self.parts.get("months", 0))
        if months:  # calendar months: the 31st becomes the last day of a shorter month
            total = when.month - 1 + months
            year, month = when.year + total // 12, total % 12 + 1
            when = when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))
        return when + timedelta(weeks=self.parts.get("weeks", 0), days=self.parts.get("days", 0),
                                hours=self.parts.get("hours", 0), minutes=self.parts.get("minutes", 0),
                                seconds=self.parts.get("seconds", 0))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "period", **self.parts}

    def to_aws(self) -> str:
        """``rate(N unit)`` for EventBridge Scheduler, which counts whole minutes and has no months."""
        if "years" in self.parts or "months" in self.parts:
            raise InvalidError(f"{self!r}: EventBridge Scheduler has no calendar-month rate; use toolkit.Cron, "
                               "e.g. Cron('0 0 1 * *') for monthly.")
        seconds = timedelta(weeks=self.parts.get("weeks", 0), days=self.parts.get("days", 0),
                            hours=self.parts.get("hours", 0), minutes=self.parts.get("minutes", 0),
                            seconds=self.parts.get("seconds", 0)).total_seconds()
        if seconds < 60 or seconds % 60:
            raise InvalidError(f"{self!r} is {seconds:g} s; on AWS a Period must be whole minutes of at least 1 "
                               "(EventBridge Scheduler's finest rate), e.g. Period(minutes=1).")
        minutes = int(seconds // 60)
        for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
            if minutes % size == 0:
                count = minutes // size
                return f"rate({count} {unit}{'s' if count > 1 else ''})"
        raise AssertionError("unreachable: minutes divide by 1")


class Cron:
    """Run at the times a five-field cron expression names, in a time zone (default UTC).

    >>> toolkit.Cron("0 9 * * 1-5", timezone="Europe/Paris")   # 09:00 Paris time on weekdays
    """

    def __init__(self, cron_string: str, timezone: str = "UTC") -> None:
        if not isinstance(cron_string, str):
            raise InvalidError(f"Cron({cron_string!r}) needs a string such as '0 9 * * 1-5'.")
        fields = cron_string.split()
        if len(fields) != 5:
            raise InvalidError(f"Cron({cron_string!r}) has {len(fields)} fields; it needs 5: "
                               "minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5'.")
        self.cron_string, self.timezone = cron_string, timezone
        self.tz = _zone(cron_string, timezone)
        self.sets = tuple(_parse_field(cron_string, text, spec) for text, spec in zip(fields, _FIELDS, strict=True))
        self.restricted = tuple(text != "*" for text in fields)
        self.next_run(datetime.now(tz=self.tz))  # raises for expressions that never match (e.g. Feb 30)

    def __repr__(self) -> str:
        return f"Cron({self.cron_string!r}, timezone={self.timezone!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cron) and (other.cron_string, other.timezone) == (self.cron_string, self.timezone)

    def __hash__(self) -> int:
        return hash((self.cron_string, self.timezone))

    def next_run(self, after: datetime, start: datetime | None = None) -> datetime:
        """The first matching minute strictly after ``after`` (aware), in the schedule's time zone."""
        start_at = after.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
        limit = start_at + timedelta(days=366 * 5)
        candidate = start_at
        while (local := self._advance(candidate, limit)) is not None:
            if self._matches(local):
                aware = local.replace(tzinfo=self.tz)
                # a wall time skipped by a daylight-saving jump does not exist: it does not run
                if aware.astimezone(timezone.utc).astimezone(self.tz).replace(tzinfo=None) == local:
                    return aware
            candidate = local + timedelta(minutes=1)
        raise InvalidError(f"{self!r} never runs (no matching date within five years); check the day-of-month "
                           "and month fields, e.g. '0 0 30 2 *' asks for February 30.")

    def _advance(self, local: datetime, limit: datetime) -> datetime | None:
        """The first matching wall-clock minute from ``local`` on (None past ``limit``), skipping whole
        months, days and hours that cannot match."""
        minute, hour, _dom, month, _dow = self.sets
        while local < limit:
            if local.month not in month:
                local = (local.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(local):
                local = local.replace(hour=0, minute=0) + timedelta(days=1)
            elif local.hour not in hour:
                local = local.replace(minute=0) + timedelta(hours=1)
            elif local.minute not in minute:
                local += timedelta(minutes=1)
            else:
                return local
        return None

    def _day_matches(self, local: datetime) -> bool:
        dom_ok = local.day in self.sets[2]
        dow_ok = (local.isoweekday() % 7) in self.sets[4] or (local.isoweekday() == 7 and 7 in self.sets[4])
        if self.restricted[2] and self.restricted[4]:
            return dom_ok or dow_ok  # cron's rule: both restricted means either may match
        return dom_ok and dow_ok

    def _matches(self, local: datetime) -> bool:
        return (local.minute in self.sets[0] and local.hour in self.sets[1] and local.month in self.sets[3]
                and self._day_matches(local))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "cron", "cron_string": self.cron_string, "timezone": self.timezone}

    def to_aws(self) -> str:
        """``cron(min hour dom month dow year)`` for EventBridge Scheduler (its ``?`` and 1-7 Sunday-first days)."""
        if self.restricted[2] and self.restricted[4]:
            raise InvalidError(f"{self!r} restricts both day of month and day of week; EventBridge Scheduler takes "
                               "one of them only: split it into two schedules or drop one field.")
        minute, hour, dom, month, dow = (_aws_list(s, r) for s, r in zip(self.sets, self.restricted, strict=True))
        if self.restricted[4]:
            days = sorted({d % 7 for d in self.sets[4]})
            return f"cron({minute} {hour} ? {month} {','.join(_AWS_DAYS[d] for d in days)} *)"
        return f"cron({minute} {hour} {dom} {month} ? *)"


Schedule = Union[Period, Cron]  # noqa: UP007 - a runtime alias; `|` needs 3.10 objects


def schedule_from_dict(data: dict[str, Any]) -> Schedule:
    """The schedule a manifest entry describes (the inverse of ``to_dict``)."""
    if data.get("kind") == "cron":
        return Cron(data["cron_string"], data.get("timezone", "UTC"))
    return Period(**{k: v for k, v in data.items() if k != "kind"})


def schedule_lines(functions: Iterable[FunctionEntry], now: datetime | None = None) -> list[str]:
    """One line per scheduled function of a manifest: its schedule and next run (what deploy prints).
    A `Period` counts from ``now`` (the deploy), as EventBridge Scheduler's rate does."""
    now = now or datetime.now(timezone.utc)
    lines = []
    for entry in functions:
        if entry.schedule is not None:
            schedule = schedule_from_dict(entry.schedule.to_dict())
            lines.append(f"{entry.tag}: {schedule!r}, next run {schedule.next_run(now, now).isoformat()}")
    return lines


def check_schedule(where: str, schedule: object) -> Schedule | None:
    if schedule is None or isinstance(schedule, (Period, Cron)):
        return schedule
    raise InvalidError(f"{where}: schedule={schedule!r} must be toolkit.Period(...) or toolkit.Cron(...), "
                       "e.g. schedule=toolkit.Period(hours=1).")


def scheduled_without_arguments(tag: str, f: Any, schedule: Schedule | None) -> Schedule | None:
    """A schedule calls its function with no arguments: refuse one that requires some."""
    import inspect

    if schedule is not None:
        required = [p.name for p in inspect.signature(f).parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if required:
            raise InvalidError(f"{tag!r} has schedule={schedule!r} but requires {', '.join(map(repr, required))}; "
                               "a schedule calls it with no arguments: give them defaults.")
    return schedule


def _aws_list(values: frozenset[int], restricted: bool) -> str:
    return ",".join(str(v) for v in sorted(values)) if restricted else "*"


def _zone(cron_string: str, name: str) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidError(f"Cron({cron_string!r}, timezone={name!r}): unknown time zone; use an IANA name "
                           "such as 'UTC', 'Europe/Paris' or 'America/New_York'.") from None


def _parse_field(cron_string: str, text: str, spec: _Field) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        values.update(_parse_part(cron_string, part, spec))
    return frozenset(values)


def _parse_part(cron_string: str, part: str, spec: _Field) -> range:
    def bad(why: str) -> InvalidError:
        return InvalidError(f"Cron({cron_string!r}): the {spec.name} field {part!r} {why}; "
                            f"it takes {spec.low}-{spec.high}, '*', ranges 'a-b', lists 'a,b' and steps '*/n'.")

    base, _, step_text = part.partition("/")
    try:
        step = int(step_text) if step_text else 1
    except ValueError:
        raise bad("has a step that is not a number") from None
    if step < 1:
        raise bad("has a step below 1")
    if base == "*":
        low, high = spec.low, spec.high
    else:
        first, dash, last = base.partition("-")
        low = _value(first, spec, bad)
        high = _value(last, spec, bad) if dash else (spec.high if step_text else low)
    if low > high:
        raise bad(f"runs backwards ({low} > {high})")
    return range(low, high + 1, step)


def _value(text: str, spec: _Field, bad: Any) -> int:
    upper = text.upper()
    if upper in spec.names:
        return spec.names[upper]
    if not text.isdigit():
        raise bad("is not a number" + (" or a name" if spec.names else ""))
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise bad("is out of range")
    return value
