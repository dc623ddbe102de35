"""Dates as users type them: ISO 8601, epoch milliseconds, and Elasticsearch date math.

``parse_date(text, now, round_up=False)`` returns a timezone-aware UTC ``datetime``:

* ISO 8601: ``2026-11``, ``2026-11-25``, ``2026-11-25T10``, ``2026-11-25T10:00``,
  ``2026-11-25T10:00:00``, ``2026-11-25T10:00:00.123`` with an optional zone (``Z``, ``+02:00``,
  ``+0200``, ``+02``) after a time; no zone means UTC. A space may replace the ``T``.
* Epoch milliseconds: only digits (optionally a leading ``-``). A bare year such as ``2026`` is
  therefore milliseconds, not a year: write ``2026-01`` or ``2026-01-01||/y``.
* Date math, as in Elasticsearch: an anchor (``now``, or a date followed by ``||``) then any number
  of operations, applied left to right: ``+N<unit>`` / ``-N<unit>`` add or subtract (N defaults to
  1), ``/<unit>`` rounds. Units: ``y`` years, ``M`` months, ``w`` weeks, ``d`` days, ``h``/``H``
  hours, ``m`` minutes, ``s`` seconds. Months and years are calendar arithmetic (Jan 31 + 1M is
  Feb 28/29); weeks start on Monday; every computation is in UTC. At most ``MAX_OPERATIONS`` (64)
  operations in one date.

Rounding, as Elasticsearch does for range bounds: ``/d`` rounds down to the start of the day, or,
with ``round_up=True``, up to the last millisecond of the day (23:59:59.999). Callers pass
``round_up=True`` for ``lte`` and ``gt`` bounds, so ``lte now/d`` includes all of today and
``gt now/d`` excludes it. In the same way, a date typed with less than second precision
(``2026-11-25``, ``2026-11``, ``2026-11-25T10``) stands for its whole period: with ``round_up`` it
is the last millisecond of that period. A date with seconds is one exact instant (Heat's timestamps
have second precision). As in Elasticsearch, the anchor before ``||`` is never rounded up: only the
math after it is.

Errors raise ``QueryError`` whose position is an offset in ``text``.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone

from heatseeker.query.errors import QueryError, shown

UNITS = "yMwdhHms"

_ISO = re.compile(
    r"""
    (?P<year>[0-9]{4})-(?P<month>[0-9]{2})
    (?:-(?P<day>[0-9]{2})
      (?:[Tt ](?P<hour>[0-9]{2})
        (?::(?P<minute>[0-9]{2})
          (?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?
        )?
        (?P<tz>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?
      )?
    )?
    """,
    re.VERBOSE,
)
_EPOCH_MILLIS = re.compile(r"-?[0-9]{1,16}")
_MAX_NUMBER_DIGITS = 9  # date math amounts; anything larger overflows datetime anyway
MAX_OPERATIONS = 64  # date math operations in one date (each costs; no one needs more)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)


def parse_date(text: str, now: datetime, round_up: bool = False) -> datetime:
    """Parse ``text`` (see the module docstring) into an aware UTC datetime."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    if not stripped:
        raise QueryError("empty date", 0)
    try:
        if stripped.startswith("now"):
            return _apply_math(now, stripped[3:], lead + 3, round_up, stripped)
        anchor, sep, math = stripped.partition("||")
        if not sep:
            return _parse_anchor(stripped, lead, round_up)
        moment = _parse_anchor(anchor, lead, round_up=False)
        return _apply_math(moment, math, lead + len(anchor) + 2, round_up, stripped)
    except OverflowError:
        raise QueryError(f"invalid date {shown(stripped)}: out of range", lead) from None


def _parse_anchor(text: str, offset: int, round_up: bool) -> datetime:
    if _EPOCH_MILLIS.fullmatch(text):
        return _EPOCH + timedelta(milliseconds=int(text))
    m = _ISO.fullmatch(text)
    if m is None:
        raise QueryError(
            f"invalid date {shown(text)}: expected an ISO 8601 date such as 2026-11-25 or "
            f"2026-11-25T10:00:00Z, epoch milliseconds, or date math such as now-1d/d",
            offset,
        )
    g = m.groupdict()
    tz: timezone = UTC
    if g["tz"] and g["tz"] not in "Zz":
        sign = -1 if g["tz"][0] == "-" else 1
        digits = g["tz"][1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise QueryError(
                f"invalid date {shown(text)}: bad time zone offset {g['tz']!r}", offset
            )
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    fraction = (g["fraction"] or "").ljust(6, "0")[:6]
    try:
        moment = datetime(
            int(g["year"]),
            int(g["month"]),
            int(g["day"] or 1),
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            int(g["second"] or 0),
            int(fraction),
            tzinfo=tz,
        )
    except ValueError as e:
        raise QueryError(f"invalid date {shown(text)}: {e}", offset) from None
    if round_up:
        # the period the text names, from its least significant field given
        for name, unit in (("day", "M"), ("hour", "d"), ("minute", "h"), ("second", "m")):
            if g[name] is None:
                moment = _ceil(moment, unit)
                break
    return moment.astimezone(UTC)


def _apply_math(moment: datetime, math: str, offset: int, round_up: bool, whole: str) -> datetime:
    def error(reason: str, at: int) -> QueryError:
        return QueryError(f"invalid date math in {shown(whole)}: {reason}", offset + at)

    i = 0
    operations = 0
    while i < len(math):
        op = math[i]
        if op not in "+-/":
            raise error(f"unexpected {op!r} where +, - or / was expected", i)
        operations += 1
        if operations > MAX_OPERATIONS:
            raise error(f"too many operations (at most {MAX_OPERATIONS})", i)
        i += 1
        start = i
        while i < len(math) and "0" <= math[i] <= "9":
            i += 1
        digits = math[start:i]
        if op == "/" and digits:
            raise error("rounding takes a unit and no number, as in /d", start)
        if len(digits) > _MAX_NUMBER_DIGITS:
            raise error(f"number too large (at most {_MAX_NUMBER_DIGITS} digits)", start)
        if i >= len(math):
            raise error(f"missing unit after {op + digits!r} (one of {' '.join(UNITS)})", i)
        unit = math[i]
        if unit not in UNITS:
            raise error(f"unknown unit {unit!r} (one of {' '.join(UNITS)})", i)
        i += 1
        if op == "/":
            moment = _ceil(moment, unit) if round_up else _floor(moment, unit)
        else:
            amount = int(digits) if digits else 1
            moment = _add(moment, amount if op == "+" else -amount, unit)
    return moment


def _add(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in "yM":
        months = amount * 12 if unit == "y" else amount
        total = moment.year * 12 + moment.month - 1 + months
        year, month0 = divmod(total, 12)
        if not 1 <= year <= 9999:
            raise OverflowError
        day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
        return moment.replace(year=year, month=month0 + 1, day=day)
    step = {
        "w": timedelta(weeks=1),
        "d": timedelta(days=1),
        "h": timedelta(hours=1),
        "H": timedelta(hours=1),
        "m": timedelta(minutes=1),
        "s": timedelta(seconds=1),
    }[unit]
    return moment + step * amount


def _floor(moment: datetime, unit: str) -> datetime:
    if unit == "s":
        return moment.replace(microsecond=0)
    if unit == "m":
        return moment.replace(second=0, microsecond=0)
    if unit in "hH":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        return day - timedelta(days=day.weekday())
    if unit == "M":
        return day.replace(day=1)
    return day.replace(month=1, day=1)  # y


def _ceil(moment: datetime, unit: str) -> datetime:
    """The last millisecond of the ``unit`` that contains ``moment``."""
    return _add(_floor(moment, unit), 1, unit) - _MILLI
