"""Request and response schemas of dialer templates."""
from marshmallow import Schema, fields, validate

from service.schemas.fields import StrictBoolean
from service.schemas.messages import NON_BLANK, StrictSchema

SLUG = validate.Regexp(
    r"^[a-z0-9][a-z0-9_-]{0,99}$",
    error="Use 1 to 100 lower-case letters, digits, '-' or '_', starting with a letter or digit.",
)
BODY = fields.String(
    required=True,
    validate=[validate.Length(min=1, max=10_000), NON_BLANK],
    metadata={"description": "Jinja2 template text, rendered in a sandbox; variables must be given."},
)


class TemplateCreateSchema(StrictSchema):
    slug = fields.String(required=True, validate=SLUG)
    body = BODY
    is_active = StrictBoolean(load_default=True)


class TemplateUpdateSchema(StrictSchema):
    body = BODY
    is_active = StrictBoolean(load_default=None)


class TemplatePreviewSchema(StrictSchema):
    context_data = fields.Dict(keys=fields.String(), load_default=dict)


class TemplatePreviewResultSchema(Schema):
    content = fields.String()


class TemplateSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    body = fields.String()
    is_active = fields.Boolean()
    created_at = fields.DateTime(format="iso")
    changed_at = fields.DateTime(format="iso")


class TemplateListSchema(Schema):
    items = fields.List(fields.Nested(TemplateSchema))
    next_cursor = fields.String(allow_none=True)
