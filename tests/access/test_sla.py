"""The review clock counts Danish working days."""
from __future__ import annotations

from datetime import UTC, date, datetime

from marketplace.access import sla


def test_easter_dates():
    assert sla.easter_sunday(2025) == date(2025, 4, 20)
    assert sla.easter_sunday(2026) == date(2026, 4, 5)
    assert sla.easter_sunday(2027) == date(2027, 3, 28)


def test_holidays_include_easter_christmas_and_no_great_prayer_day_since_2024():
    holidays = sla.danish_holidays(2026)
    assert {date(2026, 4, 2), date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 14),
            date(2026, 5, 25), date(2026, 12, 25)} <= holidays
    assert date(2023, 5, 5) in sla.danish_holidays(2023)  # Store bededag, last held in 2023
    assert date(2026, 5, 1) not in holidays


def test_thirty_working_days_skip_weekends_and_holidays():
    start = datetime(2026, 12, 18, 9, tzinfo=UTC)  # a Friday before Christmas
    due = sla.add_working_days(start, 30)
    # 24, 25, 26, 31 December and 1 January are days off, as are the weekends.
    assert due == datetime(2027, 2, 4, 9, tzinfo=UTC)
    assert sla.working_days_between(start.date(), due.date()) == 30
    assert sla.working_days_between(due.date(), start.date()) == -30


def test_weekend_is_not_a_working_day():
    assert not sla.is_working_day(date(2026, 11, 21))
    assert sla.is_working_day(date(2026, 11, 23))


def test_working_days_are_counted_on_copenhagen_dates():
    from datetime import UTC, datetime

    from marketplace.access.sla import working_days_left

    # Monday 00:30 in Copenhagen is still Sunday in UTC; Friday 12:00 is four working days on.
    monday_night = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    friday_noon = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    assert working_days_left(monday_night, friday_noon) == 4
