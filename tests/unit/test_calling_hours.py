"""Calling hours in the recipient's local time: parsing, midnight, DST, holidays, zones."""
from datetime import datetime, timezone

import pytest

from config import ConfigError, TimingConfig
from service.dialer.timing.hours import CallingHoursError, next_opening, parse_calling_hours, place_of

HOURS = parse_calling_hours("mon-fri 08:00-20:00; sat 09:00-17:00")
PRAGUE_MOBILE = "+420777123456"
NEW_YORK = "+12125551234"
MOSCOW_MOBILE = "+79161234567"


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def opening(recipient, now, hours=HOURS, holidays=False, fallback="UTC"):
    return next_opening(hours, place_of(recipient, fallback), now, holidays, fallback)


def test_within_the_hours_the_number_may_be_called_now():
    now = utc(2026, 12, 2, 12, 0)  # Wednesday 13:00 in Prague
    assert opening(PRAGUE_MOBILE, now) == now


def test_after_closing_on_friday_the_next_opening_is_monday_morning_across_midnight():
    assert opening(PRAGUE_MOBILE, utc(2026, 12, 4, 21, 30)) == utc(2026, 12, 5, 8, 0)  # Saturday 09:00 local
    sunday_hours = parse_calling_hours("mon-fri 08:00-20:00")
    assert opening(PRAGUE_MOBILE, utc(2026, 12, 4, 22, 59), sunday_hours) == utc(2026, 12, 7, 7, 0)


def test_the_opening_stays_at_local_eight_across_the_daylight_saving_change():
    # Europe/Prague moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    assert opening(PRAGUE_MOBILE, utc(2026, 3, 27, 20, 0)) == utc(2026, 3, 28, 8, 0)  # Sat 09:00 (+1)
    assert opening(PRAGUE_MOBILE, utc(2026, 3, 28, 17, 0)) == utc(2026, 3, 30, 6, 0)  # Mon 08:00 (+2)
    # and back on 2026-10-25
    assert opening(PRAGUE_MOBILE, utc(2026, 10, 24, 16, 0)) == utc(2026, 10, 26, 7, 0)  # Mon 08:00 (+1)


def test_public_holidays_of_the_numbers_country_are_skipped_when_asked():
    christmas_eve = utc(2026, 12, 24, 10, 0)  # Thursday, a Czech public holiday (24th-26th)
    assert opening(PRAGUE_MOBILE, christmas_eve) == christmas_eve
    assert opening(PRAGUE_MOBILE, christmas_eve, holidays=True) == utc(2026, 12, 28, 7, 0)
    # The same day is no holiday in the United States.
    assert opening(NEW_YORK, utc(2026, 12, 24, 15, 0), holidays=True) == utc(2026, 12, 24, 15, 0)


def test_a_number_in_another_zone_than_the_service_is_called_in_its_own_hours():
    # 13:00 in Prague is 07:00 in New York: closed there until 08:00 New York time.
    now = utc(2026, 12, 2, 12, 0)
    assert opening(NEW_YORK, now, fallback="Europe/Prague") == utc(2026, 12, 2, 13, 0)


def test_a_number_with_several_zones_is_called_only_when_every_zone_is_within_the_hours():
    zones = place_of(MOSCOW_MOBILE, "UTC").zones
    assert "Europe/Moscow" in zones and "Asia/Kamchatka" in zones
    # phonenumbers places +7 916 anywhere from Bucharest (UTC+2) to Kamchatka (UTC+12): the hours
    # hold in all of them from 06:00 UTC (08:00 in Bucharest) to 08:00 UTC (20:00 in Kamchatka).
    assert opening(MOSCOW_MOBILE, utc(2026, 12, 2, 6, 30)) == utc(2026, 12, 2, 6, 30)
    assert opening(MOSCOW_MOBILE, utc(2026, 12, 2, 5, 0)) == utc(2026, 12, 2, 6, 0)
    assert opening(MOSCOW_MOBILE, utc(2026, 12, 2, 9, 0)) == utc(2026, 12, 3, 6, 0)


def test_a_number_without_a_zone_uses_the_service_time_zone():
    place = place_of("+447700900123", "Europe/Prague")  # a range with no geography
    assert place.zones == ("Europe/Prague",)


@pytest.mark.parametrize("text", ["", "mon 08:00", "monday 08:00-20:00", "mon 20:00-08:00", "mon 08:00-25:00",
                                  "fri-mon 08:00-10:00", "mon 8-20", "x" * 201])
def test_unreadable_calling_hours_are_refused_with_a_reason(text):
    with pytest.raises(CallingHoursError):
        parse_calling_hours(text)


def test_hours_may_end_at_midnight_and_have_several_ranges():
    hours = parse_calling_hours("sun 09:00-12:00,13:00-24:00")
    assert hours.days[6] == ((540, 720), (780, 1440))


def test_timing_settings_are_read_and_checked():
    timing = TimingConfig.from_env({"DIALER_CALLING_HOURS": "mon-fri 08:00-20:00", "DIALER_TIMEZONE": "Europe/Prague",
                                    "DIALER_SKIP_PUBLIC_HOLIDAYS": "true", "DIALER_DEFAULT_VALIDITY_HOURS": "48",
                                    "DIALER_RECIPIENT_DAILY_LIMIT": "3", "DIALER_ALLOWED_NUMBER_TYPES": "mobile,toll_free"})
    assert (timing.calling_hours, timing.timezone, timing.skip_public_holidays) == ("mon-fri 08:00-20:00",
                                                                                    "Europe/Prague", True)
    assert (timing.default_validity_hours, timing.recipient_daily_limit) == (48, 3)
    assert timing.allowed_number_types == {"MOBILE", "TOLL_FREE"}
    assert TimingConfig.from_env({}) == TimingConfig()
    for env in ({"DIALER_CALLING_HOURS": "always"}, {"DIALER_TIMEZONE": "Mars/Base"},
                {"DIALER_ALLOWED_NUMBER_TYPES": "landline"}, {"DIALER_RECIPIENT_DAILY_LIMIT": "0"}):
        with pytest.raises(ConfigError):
            TimingConfig.from_env(env)
