"""The console's forms. Every form that changes something carries a CSRF token (FlaskForm)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from service.dialer.operators import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH
from service.dialer.sending import MAX_CONTENT_LENGTH, MAX_TAG_LENGTH
from service.models.operator import OperatorRole

MAX_CONTEXT_LENGTH = 20_000
MAX_BODY_LENGTH = 20_000
ROLE_CHOICES = [SelectChoice(role.value, role.value) for role in OperatorRole]


class SignInForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class ConfirmForm(FlaskForm):
    """A form with nothing but its token: sign out, delete."""


class TemplateForm(FlaskForm):
    slug = StringField(_l("Slug"), validators=[DataRequired(), Length(max=100)])
    body = TextAreaField(_l("Body"), validators=[DataRequired(), Length(max=MAX_BODY_LENGTH)])
    is_active = BooleanField(_l("Active"), default=True)
    sample_context = TextAreaField(_l("Sample context (JSON)"), default="{}",
                                   validators=[Optional(), Length(max=MAX_CONTEXT_LENGTH)])


class TestCallForm(FlaskForm):
    recipient = StringField(_l("Recipient"), validators=[DataRequired(), Length(max=64)])
    content = TextAreaField(_l("Content"), validators=[Optional(), Length(max=MAX_CONTENT_LENGTH)])
    template_slug = StringField(_l("Template slug (instead of content)"), validators=[Optional(), Length(max=100)])
    context_data = TextAreaField(_l("Template context (JSON)"), default="{}",
                                 validators=[Optional(), Length(max=MAX_CONTEXT_LENGTH)])
    tag = StringField(_l("Tag"), validators=[Optional(), Length(max=MAX_TAG_LENGTH)])
    send_at = StringField(_l("Send at (optional)"), validators=[Optional(), Length(max=40)])
    valid_until = StringField(_l("Valid until (optional)"), validators=[Optional(), Length(max=40)])
    calling_hours = StringField(_l("Calling hours (optional)"), validators=[Optional(), Length(max=200)])


class OperatorCreateForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    timezone = StringField(_l("Time zone"), default="Europe/Prague", validators=[DataRequired(), Length(max=64)])


class OperatorChangeForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    is_active = BooleanField(_l("May sign in"))
