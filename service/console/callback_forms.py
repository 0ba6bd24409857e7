"""The console's forms for callback endpoints and deliveries (each carries a CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from service.models.callback import EVENT_TYPES, MAX_URL_LENGTH

LOCAL_TIME = "%Y-%m-%dT%H:%M"


class EndpointForm(FlaskForm):
    url = StringField(_l("URL"), validators=[DataRequired(), Length(max=MAX_URL_LENGTH)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=1000)])
    # None ticked: every event type.
    event_types = SelectMultipleField(_l("Event types (none: all)"), choices=[SelectChoice(e, e) for e in EVENT_TYPES],
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    tag = StringField(_l("Only messages tagged"), validators=[Optional(), Length(max=255)])
    enabled = BooleanField(_l("Enabled"), default=True)


class ReplayForm(FlaskForm):
    since = DateTimeLocalField(_l("Replay deliveries created since"), format=LOCAL_TIME,
                               validators=[DataRequired()])
