"""Schedule expressions checked field by field, as EventBridge Scheduler checks them at deploy time.

Every schedule in the configuration becomes an EventBridge Scheduler schedule (retraining, the open drift
pipeline, batch transform). The grammar follows the AWS pages "Schedule types in EventBridge Scheduler",
"Cron expressions reference" and "Rate expressions reference":

- ``cron(minutes hours day-of-month month day-of-week year)``: six fields separated by white space; minutes 0-59,
  hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT, year 1970-2199; wildcards
  ``, - * /`` everywhere, ``?`` in day-of-month and day-of-week, ``L`` and ``W`` in day-of-month, ``L`` and ``#``
  in day-of-week; day-of-month and day-of-week can't both be set: one of them must be ``?``.
- ``rate(value unit)``: a positive integer value; unit ``minute|hour|day`` when the value is 1, else the plural.
- ``at(yyyy-mm-ddThh:mm:ss)``: a one-time schedule at a real date and time.

A mistake CloudFormation would only report mid-deployment (a ``CREATE_FAILED`` on the schedule) fails synth here
instead, naming the field of the expression that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NUMBER = re.compile(r"[0-9]{1,4}", re.ASCII)
_RATE = re.compile(r"rate\(([0-9]{1,9}) ([a-z]{1,8})\)", re.ASCII)
_AT = re.compile(r"at\(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\)", re.ASCII)
_MAX_LENGTH = 256

ALLOWED = (
    "allowed: 'cron(minutes hours day-of-month month day-of-week year)', 'rate(N minutes|hours|days)' "
    "(singular unit for 1) or 'at(yyyy-mm-ddThh:mm:ss)'"
)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    question: bool = False
    last_weekday: bool = False  # day-of-month: L, LW, nW
    last_hash: bool = False  # day-of-week: L, nL, n#k

    def value(self, text: str) -> int:
        upper = text.upper()
        if self.names and upper in self.names:
            return self.names.index(upper) + self.low
        if not _NUMBER.fullmatch(text):
            allowed = f"{self.low}-{self.high}" + (f" or {self.names[0]}-{self.names[-1]}" if self.names else "")
            raise ValueError(f"{self.name} {text!r} is not a value; allowed: {allowed}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name} {number} is out of range; allowed: {self.low}-{self.high}")
        return number


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31, question=True, last_weekday=True),
    _Field("month", 1, 12, names=_MONTHS),
    _Field("day-of-week", 1, 7, names=_WEEKDAYS, question=True, last_hash=True),
    _Field("year", 1970, 2199),
)


def _check_item(field: _Field, item: str) -> None:
    if field.last_weekday and item in ("L", "LW"):
        return
    if field.last_weekday and item.endswith("W"):
        field.value(item[:-1])
        return
    if field.last_hash and item == "L":
        return
    if field.last_hash and item.endswith("L") and len(item) > 1:
        field.value(item[:-1])
        return
    if field.last_hash and "#" in item:
        day, _, nth = item.partition("#")
        field.value(day)
        if nth not in ("1", "2", "3", "4", "5"):
            raise ValueError(f"{field.name} {item!r}: the week after '#' must be 1-5")
        return
    base, slash, step = item.partition("/")
    if slash:
        if field.last_hash:
            raise ValueError(f"{field.name} {item!r}: '/' is not allowed in day-of-week")
        if not _NUMBER.fullmatch(step) or not 1 <= int(step) <= field.high:
            raise ValueError(f"{field.name} {item!r}: the increment after '/' must be 1-{field.high}")
    if base == "*":
        return
    first, dash, last = base.partition("-")
    field.value(first)
    if dash:
        field.value(last)


def _check_cron(body: str) -> None:
    parts = body.split(" ")
    if not all(parts):
        raise ValueError("cron fields must be separated by single spaces")
    if len(parts) != len(_FIELDS):
        raise ValueError(f"cron has {len(parts)} fields, 6 are required")
    for field, text in zip(_FIELDS, parts, strict=True):
        if text == "?":
            if not field.question:
                raise ValueError(f"{field.name} '?' is allowed only in day-of-month or day-of-week")
            continue
        for item in text.split(","):
            if not item:
                raise ValueError(f"{field.name} {text!r} has an empty item between commas")
            _check_item(field, item)
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(
            f"day-of-month {day_of_month!r} and day-of-week {day_of_week!r}: exactly one of them must be '?'"
        )


def _check_rate(value: str, unit: str) -> None:
    number = int(value)
    if number < 1:
        raise ValueError(f"rate value {number} must be a positive integer")
    singular = ("minute", "hour", "day")
    plural = ("minutes", "hours", "days")
    if number == 1 and unit not in singular:
        raise ValueError(f"rate(1 {unit}): with the value 1 the unit is one of {', '.join(singular)}")
    if number > 1 and unit not in plural:
        raise ValueError(f"rate({number} {unit}): with a value above 1 the unit is one of {', '.join(plural)}")


def schedule_problem(expression: str) -> str | None:
    """What is wrong with ``expression`` (``None`` if EventBridge Scheduler would accept it)."""
    if len(expression) > _MAX_LENGTH or not expression.isascii():
        return f"longer than {_MAX_LENGTH} characters or not ASCII"
    try:
        if expression.startswith("cron(") and expression.endswith(")"):
            _check_cron(expression[5:-1])
        elif rate := _RATE.fullmatch(expression):
            _check_rate(rate[1], rate[2])
        elif at := _AT.fullmatch(expression):
            datetime.strptime(at[1], "%Y-%m-%dT%H:%M:%S")  # the schedule's own time zone applies
        else:
            return "not a cron(), rate() or at() expression"
    except ValueError as error:
        return str(error)
    return None


def check_schedule_expression(value: str) -> str:
    """Pydantic validator: ``value`` if it is a valid schedule expression, else ``ValueError`` naming the field."""
    problem = schedule_problem(value)
    if problem is not None:
        shown = repr(value) if len(value) <= 120 else repr(value[:117]) + "..."
        raise ValueError(f"{shown} is not a schedule expression: {problem}; {ALLOWED}")
    return value


def is_one_time(expression: str) -> bool:
    """Whether ``expression`` is an ``at()`` schedule (runs once)."""
    return expression.startswith("at(")
