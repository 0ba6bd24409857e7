"""Request and response schemas of dialer messages."""
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from service.dialer.related import MAX_CONTENT_TYPE_LENGTH, MAX_OBJECT_ID_LENGTH, MAX_RELATED_OBJECTS
from service.dialer.sending import MAX_CONTENT_LENGTH, MAX_TAG_LENGTH
from service.models.callback import MAX_URL_LENGTH
from service.models.message import PRIORITY_HIGHEST, PRIORITY_LOWEST
from service.models.states import DialerMessageState
from service.schemas.fields import ObjectId, PhoneNumber, QueryBoolean, StrictBoolean, UTCDateTime

NON_BLANK = validate.Regexp(r"\S", error="Must not be blank.")
# Ofcom keeps +44 7700 900000-900999 for drama: nobody has these numbers, and the
# service refuses them (422), so "Try it out" in /api/docs can call no one.
EXAMPLE_RECIPIENT = "+447700900123"
RECIPIENT_DESCRIPTION = (
    "A phone number, stored in E.164; without a country code it is read in DIALER_DEFAULT_PHONE_REGION. "
    "The example is from a range reserved for drama, which the service refuses: use a number you own."
)


def _paths_with_nul(value: Any, path: str = "") -> list[str]:
    """Where `value` holds a NUL character (as dotted paths; a NUL in a key shows as \\0)."""
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, Mapping):
        items = [(f"{path}.{key}".lstrip(".").replace("\x00", "\\0"), key, item) for key, item in value.items()]
        return ([where for where, key, _ in items if isinstance(key, str) and "\x00" in key]
                + [hit for where, _, item in items for hit in _paths_with_nul(item, where)])
    if isinstance(value, (list, tuple)):
        return [hit for index, item in enumerate(value) for hit in _paths_with_nul(item, f"{path}.{index}".lstrip("."))]
    return []


class StrictSchema(Schema):
    """Input schemas: unknown fields and NUL characters (which no database column can hold) are refused."""

    class Meta:
        unknown = RAISE

    @pre_load(pass_collection=True)
    def _refuse_nul_characters(self, data, **kwargs):
        paths = _paths_with_nul(data)
        if paths:
            raise ValidationError({path: ["Must not contain NUL characters."] for path in paths})
        return data


class RelatedObjectSchema(StrictSchema):
    content_type = fields.String(
        required=True, validate=[validate.Length(min=1, max=MAX_CONTENT_TYPE_LENGTH), NON_BLANK]
    )
    object_id = ObjectId(required=True)


class RelatedObjectResultSchema(Schema):
    content_type = fields.String()
    object_id = ObjectId(attribute="given_object_id")


class MessageOptionsSchema(StrictSchema):
    related_objects = fields.List(
        fields.Nested(RelatedObjectSchema),
        load_default=list,
        validate=validate.Length(max=MAX_RELATED_OBJECTS),
    )
    tag = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_TAG_LENGTH))
    extra_data = fields.Dict(keys=fields.String(), load_default=dict)
    priority = fields.Integer(
        load_default=PRIORITY_LOWEST,
        strict=True,
        validate=validate.Range(PRIORITY_HIGHEST, PRIORITY_LOWEST),
        metadata={"description": "1 is the highest priority, 3 the lowest (default)."},
    )
    is_autodialer = StrictBoolean(load_default=True)
    send_at = UTCDateTime(load_default=None, allow_none=True, metadata={
        "description": "Publish no earlier than this (ISO 8601 with an offset; without one, UTC). "
                       "Until then the message is SCHEDULED."})
    valid_until = UTCDateTime(load_default=None, allow_none=True, metadata={
        "description": "Never dial after this: a message not yet dialled then becomes EXPIRED "
                       "(default: DIALER_DEFAULT_VALIDITY_HOURS after it may first be sent)."})
    calling_hours = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200),
                                  metadata={"description": "Overrides DIALER_CALLING_HOURS, in the recipient's "
                                                           "local time, e.g. `mon-fri 08:00-20:00; sat 09:00-17:00`."})
    callback_url = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_URL_LENGTH),
        metadata={"description": "Receives this message's status callbacks, signed with "
                                 "DIALER_CALLBACK_SIGNING_SECRET (see README, Receiving status callbacks)."})


CONTENT = fields.String(
    required=True,
    validate=[validate.Length(min=1, max=MAX_CONTENT_LENGTH), NON_BLANK],
    metadata={"description": "The text read to the recipient by text-to-speech."},
)


class MessageCreateSchema(MessageOptionsSchema):
    recipient = PhoneNumber(required=True, metadata={"example": EXAMPLE_RECIPIENT,
                                                     "description": RECIPIENT_DESCRIPTION})
    content = CONTENT


class BulkMessageCreateSchema(MessageOptionsSchema):
    recipients = fields.List(PhoneNumber(metadata={"example": EXAMPLE_RECIPIENT}), required=True,
                             validate=validate.Length(min=1), metadata={"description": RECIPIENT_DESCRIPTION})
    content = CONTENT


class TemplateSendSchema(MessageOptionsSchema):
    recipient = PhoneNumber(required=True, metadata={"example": EXAMPLE_RECIPIENT,
                                                     "description": RECIPIENT_DESCRIPTION})
    context_data = fields.Dict(keys=fields.String(), load_default=dict)


class MessageSchema(Schema):
    id = fields.Integer()
    created_at = fields.DateTime(format="iso")
    changed_at = fields.DateTime(format="iso")
    sent_at = fields.DateTime(format="iso", allow_none=True)
    recipient = fields.String()
    content = fields.String()
    template_slug = fields.String(allow_none=True)
    template_id = fields.Integer(allow_none=True)
    state = fields.Enum(DialerMessageState)
    backend = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    extra_data = fields.Dict()
    extra_sender_data = fields.Dict()
    tag = fields.String(allow_none=True)
    is_final_state = fields.Boolean()
    failed = fields.Boolean()
    priority = fields.Integer()
    is_autodialer = fields.Boolean()
    number_of_send_attempts = fields.Integer()
    number_of_status_check_attempts = fields.Integer()
    related_objects = fields.List(fields.Nested(RelatedObjectResultSchema))
    callback_url = fields.String(allow_none=True)
    send_at = fields.DateTime(format="iso", allow_none=True)
    valid_until = fields.DateTime(format="iso", allow_none=True)
    calling_hours = fields.String(allow_none=True)
    scheduled_until = fields.DateTime(format="iso", allow_none=True, metadata={
        "description": "When a SCHEDULED message is next considered for publishing"})
    schedule_note = fields.String(allow_none=True, metadata={"description": "Why a SCHEDULED message waits"})
    pending_take_back = fields.String(allow_none=True, validate=validate.OneOf(["cancel", "expire"]), metadata={
        "description": "A cancel or expiry waiting for the provider's record to be removed (retried by the worker)"})


class MessageCancelFilterSchema(StrictSchema):
    tag = fields.String(validate=validate.Length(min=1, max=MAX_TAG_LENGTH))
    template_slug = fields.String(validate=validate.Length(min=1, max=100))
    content_type = fields.String(validate=validate.Length(min=1, max=MAX_CONTENT_TYPE_LENGTH))
    object_id = fields.String(validate=validate.Length(min=1, max=MAX_OBJECT_ID_LENGTH))


class MessageCancelReportSchema(Schema):
    matched = fields.Integer(metadata={"description": "Cancellable messages handled by this request"})
    cancelled = fields.Integer()
    pending = fields.Integer(metadata={"description": "Cancel pending: the provider's record is being taken back"})
    refused = fields.Integer(metadata={"description": "Their call started meanwhile"})
    more = fields.Boolean(metadata={"description": "More messages match: repeat the request"})


class MessageListSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    next_cursor = fields.String(allow_none=True)


class BulkMessageListSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))


class PageQuerySchema(StrictSchema):
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class MessageQuerySchema(PageQuerySchema):
    state = fields.Enum(DialerMessageState)
    tag = fields.String()
    recipient = PhoneNumber(validate=validate.Length(min=1), metadata={
        "description": "Messages to this phone number (read as when sending). An empty value is refused (422): "
                       "leave the parameter out to list every recipient.",
        "example": EXAMPLE_RECIPIENT})
    template_slug = fields.String()
    is_final_state = QueryBoolean()
    needs_status_lookup = QueryBoolean(metadata={
        "description": "Messages waiting for a direct look-up of their provider record (a webhook hint the "
                       "provider could not answer, or a record the feed did not show)"})
    content_type = fields.String()
    object_id = fields.String()
    created_after = UTCDateTime()
    created_before = UTCDateTime()


class MessageEventSchema(Schema):
    id = fields.Integer()
    created_at = fields.DateTime(format="iso")
    source = fields.String(metadata={"description": "webhook, poll, lookup, publish, schedule, cancel or expiry"})
    old_state = fields.String(allow_none=True)
    new_state = fields.String(allow_none=True)
    applied = fields.Boolean()
    note = fields.String(allow_none=True, metadata={"description": "why it was ignored, or a warning"})
    payload = fields.Dict()


class MessageEventListSchema(Schema):
    items = fields.List(fields.Nested(MessageEventSchema))
    next_cursor = fields.String(allow_none=True)
