"""Stored dialer templates: create, change, delete, list, preview."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.dialer.pagination import Page, decode_cursor, page_from_rows
from service.dialer.runtime import template_model
from service.dialer.sending import get_template, render_for_sending
from service.errors import ConflictError, InvalidInputError
from service.extensions import db
from service.models.template import AbstractDialerTemplate
from service.rendering import TemplateSyntaxProblem, check_template_syntax


def _checked_body(body: str) -> str:
    try:
        check_template_syntax(body)
    except TemplateSyntaxProblem as exc:
        raise InvalidInputError(errors={"body": [f"Template syntax error: {exc}"]}) from None
    return body


def create_template(slug: str, body: str, is_active: bool = True) -> AbstractDialerTemplate:
    template = template_model()(slug=slug, body=_checked_body(body), is_active=is_active)
    db.session.add(template)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ConflictError(
            "A dialer template with this slug already exists.", errors={"slug": ["Already exists."]}
        ) from None
    return template


def update_template(slug: str, body: str, is_active: Optional[bool] = None) -> AbstractDialerTemplate:
    template = get_template(slug)
    template.body = _checked_body(body)
    if is_active is not None:
        template.is_active = is_active
    db.session.commit()
    return template


def delete_template(slug: str) -> None:
    """Delete a template; messages sent from it keep its slug (their template_id becomes null)."""
    template = get_template(slug)
    db.session.delete(template)
    db.session.commit()


def list_templates(cursor: Optional[str], limit: int) -> Page[AbstractDialerTemplate]:
    model = template_model()
    query = select(model).order_by(model.id).limit(limit + 1)
    after_id = decode_cursor(cursor)
    if after_id is not None:
        query = query.where(model.id > after_id)
    rows = list(db.session.scalars(query))
    db.session.commit()
    return page_from_rows(rows, limit)


def preview_template(slug: str, context_data: Mapping[str, Any]) -> str:
    """The content `send_template` would speak, without sending anything."""
    return render_for_sending(get_template(slug), context_data)
