"""/api/v1/templates: manage dialer templates and send from them."""
from flask_smorest import Blueprint

from service.api.auth import guard_api_request
from service.api.idempotency import idempotent
from service.dialer import templates as template_service
from service.dialer.templates import get_template, send_template_or_refuse
from service.schemas.messages import MessageSchema, PageQuerySchema, TemplateSendSchema
from service.schemas.templates import (
    TemplateCreateSchema,
    TemplateListSchema,
    TemplatePreviewResultSchema,
    TemplatePreviewSchema,
    TemplateSchema,
    TemplateUpdateSchema,
)

blp = Blueprint(
    "templates", __name__, url_prefix="/api/v1/templates", description="Dialer message templates."
)
blp.before_request(guard_api_request)


@blp.route("", methods=["POST"])
@blp.arguments(TemplateCreateSchema)
@blp.response(201, TemplateSchema)
def create_template(data):
    """Create a template (its syntax is checked)"""
    return template_service.create_template(**data)


@blp.route("", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query", unknown="raise")
@blp.response(200, TemplateListSchema)
def read_templates(query):
    """List templates"""
    return template_service.list_templates(query["cursor"], query["limit"])


@blp.route("/<slug>", methods=["GET"])
@blp.response(200, TemplateSchema)
def read_template(slug):
    """Read one template"""
    return get_template(slug)


@blp.route("/<slug>", methods=["PUT"])
@blp.arguments(TemplateUpdateSchema)
@blp.response(200, TemplateSchema)
def replace_template(data, slug):
    """Change a template's body (and, if given, whether it is active)"""
    return template_service.update_template(slug, **data)


@blp.route("/<slug>", methods=["DELETE"])
@blp.response(204)
def delete_template(slug):
    """Delete a template; messages sent from it keep its slug"""
    template_service.delete_template(slug)


@blp.route("/<slug>/preview", methods=["POST"])
@blp.arguments(TemplatePreviewSchema)
@blp.response(200, TemplatePreviewResultSchema)
def preview_template(data, slug):
    """Render a template without sending it"""
    return {"content": template_service.preview_template(slug, data["context_data"])}


@blp.route("/<slug>/send", methods=["POST"])
@idempotent
@blp.arguments(TemplateSendSchema)
@blp.response(201, MessageSchema)
def send_template_message(data, slug):
    """Send a message rendered from a template

    422 when the template refuses (`can_send` is false, e.g. it is inactive).
    """
    return send_template_or_refuse(slug, data.pop("recipient"), data.pop("context_data"), **data)
