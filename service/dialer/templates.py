"""Stored dialer templates: create, change, delete, list, preview, and sending from them."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.dialer.recipients import InvalidRecipient, normalize_recipient
from service.dialer.runtime import dialer_config, template_model
from service.dialer.sending import send_message
from service.errors import ConflictError, InvalidInputError, NotFoundError
from service.extensions import db
from service.infrastructure.pagination import Page, decode_cursor, page_from_rows
from service.infrastructure.transactions import end_transaction, transaction
from service.models.message import PRIORITY_LOWEST, DialerMessage
from service.models.template import AbstractDialerTemplate, register_template_sender
from service.rendering import TemplateRenderError, TemplateSyntaxProblem, check_template_syntax


class TemplateNotFoundError(NotFoundError):
    default_message = "No dialer template has this slug."


class TemplateRefusedError(InvalidInputError):
    default_message = "This template cannot be sent to this recipient now."


def _checked_body(body: str) -> str:
    try:
        check_template_syntax(body)
    except TemplateSyntaxProblem as exc:
        raise InvalidInputError(errors={"body": [f"Template syntax error: {exc}"]}) from None
    return body


def create_template(slug: str, body: str, is_active: bool = True) -> AbstractDialerTemplate:
    template = template_model()(slug=slug, body=_checked_body(body), is_active=is_active)
    try:
        with transaction() as session:
            session.add(template)
    except IntegrityError:
        raise ConflictError(
            "A dialer template with this slug already exists.", errors={"slug": ["Already exists."]}
        ) from None
    return template


def update_template(slug: str, body: str, is_active: Optional[bool] = None) -> AbstractDialerTemplate:
    with transaction():
        template = get_template(slug)
        template.body = _checked_body(body)
        if is_active is not None:
            template.is_active = is_active
    return template


def delete_template(slug: str) -> None:
    """Delete a template; messages sent from it keep its slug (their template_id becomes null)."""
    with transaction() as session:
        session.delete(get_template(slug))


def list_templates(cursor: Optional[str], limit: int) -> Page[AbstractDialerTemplate]:
    model = template_model()
    query = select(model).order_by(model.id).limit(limit + 1)
    after_id = decode_cursor(cursor)
    if after_id is not None:
        query = query.where(model.id > after_id)
    rows = list(db.session.scalars(query))
    end_transaction()
    return page_from_rows(rows, limit)


def preview_template(slug: str, context_data: Mapping[str, Any]) -> str:
    """The content `send_template` would speak, without sending anything."""
    return render_for_sending(get_template(slug), context_data)


def preview_body(body: str, context_data: Mapping[str, Any]) -> str:
    """What a template with `body` would speak for `context_data`; nothing is stored.
    InvalidInputError names `body` (syntax) or `context_data` (rendering)."""
    draft = template_model()(slug="preview", body=_checked_body(body), is_active=True)
    return render_for_sending(draft, context_data)


def get_template(slug: str) -> AbstractDialerTemplate:
    if "\x00" in slug:
        # No stored slug holds one, and PostgreSQL refuses to even compare it.
        raise TemplateNotFoundError()
    template = db.session.scalars(
        db.select(template_model()).filter_by(slug=slug)
    ).one_or_none()
    end_transaction()
    if template is None:
        raise TemplateNotFoundError()
    return template


def render_for_sending(template: AbstractDialerTemplate, context_data: Mapping[str, Any]) -> str:
    if not isinstance(context_data, Mapping):
        raise InvalidInputError(errors={"context_data": ["context_data must be an object."]})
    try:
        return template.render_body(context_data)
    except (TemplateRenderError, TemplateSyntaxProblem) as exc:
        raise InvalidInputError(errors={"context_data": [str(exc)]}) from None


def send_from_template(template, recipient, context_data, related_objects=None, tag=None,
                       *, extra_data=None, priority=PRIORITY_LOWEST, is_autodialer=True,
                       send_at=None, valid_until=None, calling_hours=None, callback_url=None,
                       **kwargs) -> Optional[DialerMessage]:
    """Render `template` and send it; None when the template's `can_send` refuses. `send_at`,
    `valid_until`, `calling_hours` and `callback_url` are as in `send`."""
    try:
        normalized = normalize_recipient(recipient, dialer_config().default_phone_region)
    except InvalidRecipient as exc:
        raise InvalidInputError(errors={"recipient": [str(exc)]}) from None
    if not template.can_send(normalized, context_data):
        return None
    content = render_for_sending(template, context_data)
    return send_message(
        normalized, content, related_objects=related_objects, tag=tag,
        extra_data={**(extra_data or {}), **kwargs}, priority=priority,
        is_autodialer=is_autodialer, template=template, send_at=send_at, valid_until=valid_until,
        calling_hours=calling_hours, callback_url=callback_url,
    )


def send_template(recipient, slug, context_data, related_objects=None, tag=None,
                  **kwargs) -> Optional[DialerMessage]:
    """The seed's `send_template`: the message, or None when the template refuses."""
    return get_template(slug).send(recipient, context_data, related_objects, tag, **kwargs)


def send_template_or_refuse(slug: str, recipient: str, context_data: Mapping[str, Any],
                            **fields: Any) -> DialerMessage:
    """Like `send_template`, but a refusal by `can_send` raises TemplateRefusedError."""
    message = send_from_template(get_template(slug), recipient, context_data, **fields)
    if message is None:
        raise TemplateRefusedError()
    return message


# The seed's `template.send(...)` calls into this layer through the hook the models declare.
register_template_sender(send_from_template)
