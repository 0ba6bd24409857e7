"""Dialer templates: stored bodies rendered into message content."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from service.extensions import db
from service.models.message import ID_TYPE
from service.models.types import UTCDateTime, utcnow
from service.rendering import render_template_text

if TYPE_CHECKING:
    from service.models.message import DialerMessage

TemplateSender = Callable[..., Optional["DialerMessage"]]
_template_sender: Optional[TemplateSender] = None


def register_template_sender(sender: TemplateSender) -> None:
    """Called once by the dialer service: what `template.send(...)` runs."""
    global _template_sender
    _template_sender = sender


class AbstractDialerTemplate:
    """Columns and behaviour of a dialer template; mix into a mapped class.

    Override `get_body`, `render_body` or `can_send` in a subclass and name it
    in DIALER_TEMPLATE_MODEL to change how templates are rendered or refused.
    """

    @declared_attr
    def id(cls) -> Mapped[int]:
        return mapped_column(ID_TYPE, primary_key=True)

    @declared_attr
    def created_at(cls) -> Mapped[datetime]:
        return mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @declared_attr
    def changed_at(cls) -> Mapped[datetime]:
        return mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    @declared_attr
    def slug(cls) -> Mapped[str]:
        return mapped_column(String(100), unique=True)

    @declared_attr
    def body(cls) -> Mapped[str]:
        return mapped_column(Text)

    @declared_attr
    def is_active(cls) -> Mapped[bool]:
        return mapped_column(default=True)

    def get_body(self) -> str:
        return self.body

    def render_body(self, context_data: Mapping[str, Any]) -> str:
        return render_template_text(self.get_body(), context_data)

    def can_send(self, recipient: str, context_data: Mapping[str, Any]) -> bool:
        return bool(self.is_active)

    def send(
        self,
        recipient: str,
        context_data: Mapping[str, Any],
        related_objects: Optional[Iterable[Any]] = None,
        tag: Optional[str] = None,
        **kwargs: Any,
    ) -> Optional["DialerMessage"]:
        """Render and send this template (the seed's `template.send`); None when `can_send` refuses.

        The dialer service does the work (`service.dialer.templates.send_from_template`):
        it registers itself here, since models do not import the layer above them.
        """
        if _template_sender is None:
            raise RuntimeError("template.send needs the dialer service: import service.dialer first")
        return _template_sender(self, recipient, context_data, related_objects, tag, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.slug}>"


class DialerTemplate(AbstractDialerTemplate, db.Model):
    __tablename__ = "dialer_template"
