"""Custom marshmallow fields of the public contract."""
from __future__ import annotations

from datetime import timezone

from marshmallow import ValidationError, fields

from service.dialer.recipients import InvalidRecipient, normalize_recipient
from service.dialer.related import MAX_OBJECT_ID_LENGTH
from service.infrastructure.runtime import installed


class PhoneNumber(fields.String):
    """A phone number, loaded as E.164 (read in DIALER_DEFAULT_PHONE_REGION without a country code)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        region = installed("dialer").config.default_phone_region
        try:
            return normalize_recipient(text, region)
        except InvalidRecipient as exc:
            raise ValidationError(str(exc)) from None


class ObjectId(fields.Field):
    """A related object's id: a non-empty string or an integer, kept as given
    (42 stays an integer, "42" a string)."""

    SCHEMA = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": MAX_OBJECT_ID_LENGTH},
                        {"type": "integer"}],
              "example": 42}

    def __init__(self, **kwargs):
        super().__init__(metadata={**self.SCHEMA, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        is_integer = isinstance(value, int) and not isinstance(value, bool)
        if not is_integer and (not isinstance(value, str) or not value.strip()):
            raise ValidationError("object_id must be a non-empty string or an integer.")
        if len(str(value)) > MAX_OBJECT_ID_LENGTH:
            raise ValidationError(f"object_id must be at most {MAX_OBJECT_ID_LENGTH} characters.")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class StrictBoolean(fields.Boolean):
    """A JSON boolean: true or false, never 1, 0, "yes" or "true" (the schema says boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class QueryBoolean(fields.Boolean):
    """A boolean query value: the words `true` and `false`, as OpenAPI clients write them."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in ("true", "false"):
            raise ValidationError("Must be true or false.")
        return value == "true"


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime; one without a zone is read as UTC."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=timezone.utc, **kwargs)
