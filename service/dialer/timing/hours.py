"""Calling hours ("mon-fri 08:00-20:00; sat 09:00-17:00") and when a number may be called.

Pure functions of a moment: no database, no clock of their own. A number's time
zones and country come from `phonenumbers`; public holidays from `holidays`.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Optional
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from phonenumbers import timezone as number_zones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SPEC_LENGTH = 200
# How far ahead an opening is looked for: a week of hours plus a run of holidays.
SEARCH_DAYS = 21
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class CallingHoursError(ValueError):
    """A calling-hours text that cannot be read; `str()` says why and is safe to show."""


@dataclass(frozen=True)
class CallingHours:
    """Opening intervals per weekday (0 = Monday), as minutes from local midnight."""

    days: tuple[tuple[tuple[int, int], ...], ...]
    text: str


def _minutes(hours: str, minutes: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise CallingHoursError(f"{hours}:{minutes} is not a time of day.")
    return value


def _day_numbers(text: str) -> list[int]:
    numbers: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise CallingHoursError(f"{part.strip()!r} is not a day or a range of days (mon, tue-fri, ...).")
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise CallingHoursError(f"{part.strip()!r}: a range of days runs from Monday to Sunday.")
        numbers += range(start, end + 1)
    return numbers


def _intervals(text: str) -> list[tuple[int, int]]:
    intervals = []
    for part in text.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise CallingHoursError(f"{part.strip()!r} is not a range of hours such as 08:00-20:00.")
        start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if end <= start:
            raise CallingHoursError(f"{part.strip()!r}: the end must come after the start (use 24:00 for midnight).")
        intervals.append((start, end))
    return intervals


@functools.lru_cache(maxsize=256)
def parse_calling_hours(text: str) -> CallingHours:
    """Read `mon-fri 08:00-20:00; sat 09:00-12:00,13:00-17:00` (days in English, 24-hour times).
    Raises CallingHoursError."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SPEC_LENGTH:
        raise CallingHoursError(f"Give calling hours as text of 1 to {MAX_SPEC_LENGTH} characters.")
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for rule in filter(None, (part.strip() for part in text.lower().split(";"))):
        day_text, _, hours_text = rule.partition(" ")
        if not hours_text.strip():
            raise CallingHoursError(f"{rule!r} needs days and hours, e.g. mon-fri 08:00-20:00.")
        for day in _day_numbers(day_text):
            days[day] += _intervals(hours_text)
    if not any(days):
        raise CallingHoursError("The calling hours open on no day.")
    return CallingHours(tuple(tuple(sorted(day)) for day in days), text.strip())


@dataclass(frozen=True)
class RecipientPlace:
    """Where a number rings: its possible time zones and its country (for holidays)."""

    zones: tuple[str, ...]
    region: Optional[str]


@functools.lru_cache(maxsize=4096)
def place_of(recipient: str, fallback_zone: str) -> RecipientPlace:
    """The zones `phonenumbers` gives the E.164 `recipient`, or `fallback_zone` when it gives none."""
    number = phonenumbers.parse(recipient)
    zones = tuple(z for z in number_zones.time_zones_for_number(number) if z != "Etc/Unknown")
    return RecipientPlace(zones or (fallback_zone,), phonenumbers.region_code_for_number(number))


@functools.lru_cache(maxsize=64)
def _holidays_of(region: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(region, years=year))
    except NotImplementedError:  # a country the package does not know: no holidays skipped
        return frozenset()


def is_holiday(region: Optional[str], day: date) -> bool:
    return region is not None and day in _holidays_of(region, day.year)


Interval = tuple[datetime, datetime]


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    # Wall-clock arithmetic, then to UTC: 08:00 stays 08:00 on the days daylight saving time changes.
    naive = datetime.combine(day, time(0)) + timedelta(minutes=minutes)
    moment = naive.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


def openings_in_zone(hours: CallingHours, zone_name: str, start: datetime, region: Optional[str],
                     skip_holidays: bool) -> list[Interval]:
    """The opening intervals (UTC) in `zone_name` from the local day before `start` on."""
    first = start.astimezone(ZoneInfo(zone_name)).date() - timedelta(days=1)
    return list(_openings_from(hours, zone_name, first, region, skip_holidays))


@functools.lru_cache(maxsize=1024)
def _openings_from(hours: CallingHours, zone_name: str, first: date, region: Optional[str],
                   skip_holidays: bool) -> tuple[Interval, ...]:
    zone = ZoneInfo(zone_name)
    intervals = []
    for offset in range(SEARCH_DAYS + 1):
        day = first + timedelta(days=offset)
        if skip_holidays and is_holiday(region, day):
            continue
        for begin, end in hours.days[day.weekday()]:
            intervals.append((_local(day, begin, zone), _local(day, end, zone)))
    return tuple(_merge(intervals))


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for begin, end in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    return merged


def _intersect(first: list[Interval], second: list[Interval]) -> list[Interval]:
    result, i, j = [], 0, 0
    while i < len(first) and j < len(second):
        begin, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if begin < end:
            result.append((begin, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return result


def next_opening(hours: CallingHours, place: RecipientPlace, now: datetime, skip_holidays: bool,
                 fallback_zone: str) -> Optional[datetime]:
    """`now` when the number may be called now, else the start of the next opening; None when there
    is none within SEARCH_DAYS. A number with several zones may be called only when it is within
    the hours in every one of them; when they never agree (zones too far apart), `fallback_zone`
    decides."""
    for zones in (place.zones, (fallback_zone,)):
        common: Optional[list[Interval]] = None
        for zone in zones:
            openings = openings_in_zone(hours, zone, now, place.region, skip_holidays)
            common = openings if common is None else _intersect(common, openings)
        for begin, end in common or ():
            if end > now:
                return max(begin, now)
    return None
