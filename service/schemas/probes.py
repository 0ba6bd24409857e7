"""Documentation schemas of the routes outside /api/v1: the probes and Daktela's webhook.

These routes read their input themselves (the webhook leniently, as Daktela
sends it); the schemas describe it in the API description only.
"""
from marshmallow import EXCLUDE, Schema, fields


class ProbeSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class DaktelaWebhookSchema(Schema):
    """What Daktela's Events module posts, as JSON or form fields; other fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, metadata={
        "description": "The campaign record's name: DAKTELA_RECORD_NAME_PREFIX and the message id.",
        "example": "dialer_1"})
    action = fields.String(metadata={
        "description": "The record's action, 0-6, as a number or text. With `edited` the webhook is applied "
                       "at once; without them it is a hint and the record is read from Daktela.",
        "example": "5"})
    statuses = fields.Raw(metadata={
        "description": "The record's statuses: a list of names or objects, comma-separated text or JSON text.",
        "example": ["statuses_answered_complete"]})
    edited = fields.String(metadata={"description": "Daktela's last-edit time, in DAKTELA_TIMEZONE.",
                                     "example": "2026-11-26 10:00:00"})
    nextcall = fields.String(allow_none=True, metadata={"description": "When Daktela calls again, if rescheduled."})
    call_id = fields.String(allow_none=True)
    result = fields.Dict(metadata={"description": "A whole record, instead of fields at the top level."})
    record = fields.Dict(metadata={"description": "A whole record, instead of fields at the top level."})


class WebhookResultSchema(Schema):
    result = fields.String(metadata={
        "description": "applied, ignored or fetched (200); queued for a status check or unknown record (202)",
        "example": "applied"})
    message_id = fields.Integer()
    state = fields.String(metadata={"example": "ANSWERED_COMPLETE"})
