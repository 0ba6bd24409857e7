"""Jinja filters of the console's pages: phone numbers, times in the operator's zone, ages."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import phonenumbers
from flask import Flask
from flask_babel import format_datetime, format_timedelta, get_locale, get_timezone


def format_phone(number: Optional[str]) -> str:
    """+420777123456 as +420 777 123 456; anything unparsable as stored."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def format_time(value: Optional[datetime | str]) -> str:
    """A moment (or an event payload's ISO 8601 text) in the operator's zone; "—" for none."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return format_datetime(value, "medium") if value is not None else "—"


def as_local_input(value: datetime) -> str:
    """`value` in the operator's zone, as a `datetime-local` input holds it (a link's filter value)."""
    return value.astimezone(get_timezone()).strftime("%Y-%m-%dT%H:%M")


def format_age(since: Optional[datetime], now: datetime) -> str:
    return format_timedelta(now - since, threshold=1.0) if since is not None else "—"


def format_percent(rate: Optional[float]) -> str:
    return f"{rate:.0%}" if rate is not None else "—"


def format_state(state) -> str:
    name = getattr(state, "value", state) or ""
    return name.replace("_", " ").capitalize()


def register(app: Flask) -> None:
    app.add_template_filter(format_phone, "phone")
    app.add_template_filter(format_time, "time")
    app.add_template_filter(format_percent, "percent")
    app.add_template_filter(format_state, "state")
    app.add_template_global(format_age, "age")
    app.add_template_filter(as_local_input, "local_input")
    app.add_template_global(get_locale, "get_locale")
