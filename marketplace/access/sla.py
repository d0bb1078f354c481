"""The review clock: working days in Denmark (weekends and public holidays excluded).

Pure module. The target is the national research data service's 30 working days; the EHDS
allows three months, so a holder who meets this target meets both.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

REVIEW_WORKING_DAYS = 30
# Working days are Danish days: a moment at 00:30 in Copenhagen is still the previous UTC date.
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def local_date(moment: datetime) -> date:
    """The calendar date in Copenhagen of an aware moment."""
    return moment.astimezone(COPENHAGEN).date()


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def danish_holidays(year: int) -> frozenset[date]:
    """Public holidays (and the customary days off: Constitution Day, 24 and 31 December)."""
    easter = easter_sunday(year)
    # Maundy Thursday, Good Friday, Easter Monday, Ascension Day, Whit Monday
    moving = [-3, -2, 1, 39, 50]
    if year < 2024:
        moving.append(26)  # Great Prayer Day, abolished from 2024
    fixed = [(1, 1), (6, 5), (12, 24), (12, 25), (12, 26), (12, 31)]
    return frozenset([easter + timedelta(days=n) for n in moving]
                     + [date(year, month, day) for month, day in fixed])


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in danish_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The moment `days` working days after `start` (same time of day)."""
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if is_working_day(local_date(moment)):
            remaining -= 1
    return moment


def working_days_left(now: datetime, due: datetime) -> int:
    """Working days from now until a due moment, counted on Copenhagen dates."""
    return working_days_between(local_date(now), local_date(due))


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`; negative when `end` is earlier."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1)
               if is_working_day(start + timedelta(days=n)))
