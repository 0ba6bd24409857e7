"""The timing options of a new message (send_at, valid_until, calling_hours) and the number
types the service refuses to call, checked when the message is sent (never at publish time)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import phonenumbers

from config import TimingConfig
from service.dialer.timing.hours import CallingHoursError, parse_calling_hours

# How far ahead send_at and valid_until may reach: a bounded schedule, and no date arithmetic overflow.
MAX_AHEAD = timedelta(days=366)
NUMBER_TYPE_NAMES = {value: name for name, value in vars(phonenumbers.PhoneNumberType).items() if name.isupper()}


def number_type_problem(recipient: str, timing: TimingConfig) -> Optional[str]:
    """Why the E.164 `recipient` may not be called (its number type is not allowed), or None."""
    kind = NUMBER_TYPE_NAMES.get(phonenumbers.number_type(phonenumbers.parse(recipient)), "UNKNOWN")
    if kind in timing.allowed_number_types:
        return None
    return f"Numbers of type {kind} are not called (DIALER_ALLOWED_NUMBER_TYPES)."


def _aware(name: str, value: Any, now: datetime, errors: dict[str, list[str]]) -> Optional[datetime]:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        errors[name] = [f"{name} must be a date and time with a time zone offset."]
        return None
    if value - now > MAX_AHEAD:
        errors[name] = [f"{name} must be at most {MAX_AHEAD.days} days ahead."]
        return None
    return value.astimezone(timezone.utc)


def timing_fields(send_at: Any, valid_until: Any, calling_hours: Any, now: datetime,
                  timing: TimingConfig, errors: dict[str, list[str]]) -> dict[str, Any]:
    """The message's timing columns, adding what is wrong to `errors`. Without valid_until, the
    message is valid DIALER_DEFAULT_VALIDITY_HOURS from when it may first be sent."""
    send_at, valid_until = _aware("send_at", send_at, now, errors), _aware("valid_until", valid_until, now, errors)
    if calling_hours is not None:
        try:
            parse_calling_hours(calling_hours)
        except CallingHoursError as exc:
            errors["calling_hours"] = [str(exc)]
    start = max(send_at, now) if send_at is not None else now
    if valid_until is None and timing.default_validity_hours:
        valid_until = start + timedelta(hours=timing.default_validity_hours)
    elif valid_until is not None and valid_until <= start:
        errors["valid_until"] = ["valid_until must be later than now and than send_at."]
    return {"send_at": send_at, "valid_until": valid_until, "calling_hours": calling_hours}
