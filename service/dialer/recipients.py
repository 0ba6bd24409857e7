"""Phone numbers of recipients, stored in E.164."""
from __future__ import annotations

from typing import Optional

import phonenumbers


class InvalidRecipient(ValueError):
    """Not a valid phone number; `str()` is safe to show."""


MAX_RAW_LENGTH = 40


def normalize_recipient(raw: object, default_region: Optional[str]) -> str:
    """Return `raw` as an E.164 number or raise InvalidRecipient.

    Numbers without a country code are read in `default_region`
    (DIALER_DEFAULT_PHONE_REGION); without it they must start with `+`.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidRecipient("Enter a phone number.")
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidRecipient("The phone number is too long.")
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        if default_region is None and not raw.strip().startswith(("+", "00")):
            raise InvalidRecipient(
                "Not a valid phone number: write it with its country code, e.g. +420777123456."
            ) from None
        raise InvalidRecipient("Not a valid phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidRecipient("Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
