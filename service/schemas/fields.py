"""Custom marshmallow fields of the public contract."""
from __future__ import annotations

from datetime import timezone

from flask import current_app
from marshmallow import ValidationError, fields

from service.dialer.recipients import InvalidRecipient, normalize_recipient
from service.dialer.related import MAX_OBJECT_ID_LENGTH


class PhoneNumber(fields.String):
    """A phone number, loaded as E.164 (read in DIALER_DEFAULT_PHONE_REGION without a country code)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        region = current_app.extensions["dialer"].config.default_phone_region
        try:
            return normalize_recipient(text, region)
        except InvalidRecipient as exc:
            raise ValidationError(str(exc)) from None


class ObjectId(fields.Field):
    """A related object's id: a string or an integer, loaded as a string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("object_id must be a non-empty string or an integer.")
        if len(value) > MAX_OBJECT_ID_LENGTH:
            raise ValidationError(f"object_id must be at most {MAX_OBJECT_ID_LENGTH} characters.")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime; one without a zone is read as UTC."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=timezone.utc, **kwargs)
