"""Request and response schemas of status callbacks: endpoints, deliveries, attempts."""
from marshmallow import Schema, fields, validate

from service.models.callback import DELIVERY_STATUSES, EVENT_TYPES, MAX_URL_LENGTH
from service.schemas.fields import StrictBoolean, UTCDateTime
from service.schemas.messages import NON_BLANK, PageQuerySchema, StrictSchema

URL = fields.String(required=True, validate=[validate.Length(min=1, max=MAX_URL_LENGTH), NON_BLANK],
                    metadata={"example": "https://client.example.com/dialer-callbacks"})
EVENT_TYPE_LIST = fields.List(
    fields.String(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(max=len(EVENT_TYPES)),
    metadata={"description": "The event types to receive; empty: all of them."})
DESCRIPTION = fields.String(validate=validate.Length(max=1000))
TAG = fields.String(allow_none=True, validate=validate.Length(min=1, max=255),
                    metadata={"description": "Only messages with this tag; none: every message."})


class EndpointCreateSchema(StrictSchema):
    url = URL
    description = DESCRIPTION
    event_types = EVENT_TYPE_LIST
    tag = TAG
    enabled = StrictBoolean()


class EndpointUpdateSchema(StrictSchema):
    url = fields.String(validate=[validate.Length(min=1, max=MAX_URL_LENGTH), NON_BLANK])
    description = DESCRIPTION
    event_types = EVENT_TYPE_LIST
    tag = TAG
    enabled = StrictBoolean()


class EndpointSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    description = fields.String()
    event_types = fields.List(fields.String())
    tag = fields.String(allow_none=True)
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    previous_secret_expires_at = fields.DateTime(
        format="iso", allow_none=True,
        metadata={"description": "Until then, callbacks carry a signature with the previous secret too."})
    created_at = fields.DateTime(format="iso")
    changed_at = fields.DateTime(format="iso")


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(metadata={"description": "Shown this once: keep it to verify signatures."})


class EndpointListSchema(Schema):
    items = fields.List(fields.Nested(EndpointSchema))
    next_cursor = fields.String(allow_none=True)


class AttemptSchema(Schema):
    attempted_at = fields.DateTime(format="iso")
    duration_ms = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    response_body = fields.String(allow_none=True, metadata={"description": "The first 1 KiB of the answer."})
    error = fields.String(allow_none=True, metadata={"description": "The error class, when no answer came."})


class DeliverySchema(Schema):
    id = fields.Integer()
    webhook_id = fields.String()
    created_at = fields.DateTime(format="iso")
    dialer_message_id = fields.Integer()
    endpoint_id = fields.Integer(allow_none=True, metadata={"description": "None: the message's callback_url."})
    event_type = fields.String()
    sequence = fields.Integer()
    previous_state = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending, delivered or failed (a dead letter)."})
    attempt_count = fields.Integer(attribute="delivery.attempts")
    next_attempt_at = fields.DateTime(format="iso", allow_none=True)
    delivered_at = fields.DateTime(format="iso", allow_none=True)
    attempts = fields.List(fields.Nested(AttemptSchema), metadata={"description": "The latest, newest first."})


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))
    next_cursor = fields.String(allow_none=True)


class DeliveryQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


class ReplaySchema(StrictSchema):
    since = UTCDateTime(required=True)


class ReplayResultSchema(Schema):
    queued = fields.Integer()
