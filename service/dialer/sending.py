"""send and bulk sending: store first, then publish.

Each function commits the new messages before the backend is called, calls
the backend with no database transaction open, then commits what the
backend recorded. A crash at any point leaves every accepted message stored.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Mapping, Optional, Sequence

from service import metrics
from service.dialer.callbacks.endpoints import checked_message_callback_url
from service.dialer.idempotency import claim_of_new_messages
from service.dialer.publishing import lease_until, publish_stored_messages
from service.dialer.recipients import InvalidRecipient, normalize_recipient
from service.dialer.related import build_related_objects
from service.dialer.runtime import current_backend, dialer_config
from service.dialer.runtime import now as clock_now
from service.dialer.timing.options import number_type_problem, timing_fields
from service.errors import InvalidInputError
from service.infrastructure.transactions import transaction
from service.models.message import PRIORITY_HIGHEST, PRIORITY_LOWEST, DialerMessage
from service.models.states import DialerMessageState
from service.models.template import AbstractDialerTemplate

MAX_CONTENT_LENGTH = 10_000
MAX_TAG_LENGTH = 255


def check_content(content: object) -> str:
    """The content to speak, or ValueError with a message safe to show."""
    if not isinstance(content, str) or not content.strip():
        raise ValueError("Content must be non-empty text.")
    if len(content) > MAX_CONTENT_LENGTH:
        raise ValueError(f"Content must be at most {MAX_CONTENT_LENGTH} characters.")
    return content


def _checked_fields(recipient, content, tag, extra_data, priority, is_autodialer, timing) -> dict:
    errors: dict[str, list[str]] = {}
    config = dialer_config()
    values: dict[str, Any] = timing_fields(*timing, clock_now(), config.timing, errors)
    try:
        values["recipient"] = normalize_recipient(recipient, config.default_phone_region)
    except InvalidRecipient as exc:
        errors["recipient"] = [str(exc)]
    else:
        problem = number_type_problem(values["recipient"], config.timing)
        if problem is not None:
            errors["recipient"] = [problem]
    try:
        values["content"] = check_content(content)
    except ValueError as exc:
        errors["content"] = [str(exc)]
    if tag is not None and (not isinstance(tag, str) or len(tag) > MAX_TAG_LENGTH):
        errors["tag"] = [f"Tag must be text of at most {MAX_TAG_LENGTH} characters."]
    if type(priority) is not int or priority not in range(PRIORITY_HIGHEST, PRIORITY_LOWEST + 1):
        errors["priority"] = ["Priority must be 1 (highest), 2 or 3 (lowest)."]
    if not isinstance(is_autodialer, bool):
        errors["is_autodialer"] = ["is_autodialer must be true or false."]
    try:
        json.dumps(extra_data, allow_nan=False)
    except (TypeError, ValueError):
        errors["extra_data"] = ["Extra data must be JSON-serializable."]
    if errors:
        raise InvalidInputError(errors=errors)
    return values


def build_message(
    recipient: str,
    content: str,
    *,
    related_objects: Optional[Iterable[Any]] = None,
    tag: Optional[str] = None,
    extra_data: Optional[Mapping[str, Any]] = None,
    priority: int = PRIORITY_LOWEST,
    is_autodialer: bool = True,
    template: Optional[AbstractDialerTemplate] = None,
    send_at: Optional[datetime] = None,
    valid_until: Optional[datetime] = None,
    calling_hours: Optional[str] = None,
    callback_url: Optional[str] = None,
) -> DialerMessage:
    """A new, unsaved WAITING message; InvalidInputError names each bad field. `send_at` and
    `valid_until` are aware datetimes; `calling_hours` overrides DIALER_CALLING_HOURS. A
    `callback_url` receives the message's status callbacks, signed with DIALER_CALLBACK_SIGNING_SECRET."""
    extra_data = dict(extra_data or {})
    values = _checked_fields(recipient, content, tag, extra_data, priority, is_autodialer,
                             (send_at, valid_until, calling_hours))
    if callback_url is not None:
        callback_url = checked_message_callback_url(callback_url)
    message = DialerMessage(
        send_at=values["send_at"],
        valid_until=values["valid_until"],
        calling_hours=values["calling_hours"],
        recipient=values["recipient"],
        content=values["content"],
        tag=tag,
        extra_data=extra_data,
        extra_sender_data={},
        priority=priority,
        is_autodialer=is_autodialer,
        state=DialerMessageState.WAITING,
        is_final_state=False,
        number_of_send_attempts=0,
        number_of_status_check_attempts=0,
        backend=current_backend().dotted_path(),
        template_id=template.id if template is not None else None,
        template_slug=template.slug if template is not None else None,
        callback_url=callback_url,
    )
    message.related_objects = build_related_objects(related_objects)
    return message


def store_and_publish(messages: Sequence[DialerMessage]) -> None:
    """Commit new messages (all or none), then publish them now unless the worker will.

    Published now, they are stored already leased, so the worker leaves them
    alone unless this process dies before recording the outcome.
    """
    batch_sending = dialer_config().batch.sending
    now = clock_now()
    claim_id = claim_of_new_messages()
    for message in messages:
        message.next_attempt_at = None if batch_sending else lease_until(now)
        message.leased_until = message.next_attempt_at
        # Published now, the first attempt starts with the commit (see claim_due_messages).
        message.number_of_send_attempts = 0 if batch_sending else 1
        message.idempotency_key_id = claim_id
    with transaction() as session:
        session.add_all(messages)
    metrics.messages_created(len(messages))
    if not batch_sending:
        publish_stored_messages(messages)


def send_message(recipient: str, content: str, **fields: Any) -> DialerMessage:
    """Store one message built from `fields` (see `build_message`) and publish it."""
    message = build_message(recipient, content, **fields)
    store_and_publish([message])
    return message


def send_bulk(recipients: Sequence[str], content: str, **fields: Any) -> list[DialerMessage]:
    """Store one message per recipient, all or none, then publish them as a batch."""
    _check_bulk_recipients(recipients)
    # Checked once (its DNS look-up included), not once per recipient.
    callback_url = fields.pop("callback_url", None)
    callback_url = checked_message_callback_url(callback_url) if callback_url is not None else None
    messages, errors = [], {}
    for index, recipient in enumerate(recipients):
        try:
            messages.append(build_message(recipient, content, **fields))
        except InvalidInputError as exc:
            if set(exc.errors or {}) != {"recipient"}:
                raise
            errors[str(index)] = exc.errors["recipient"]
    if errors:
        raise InvalidInputError(errors={"recipients": errors})
    for message in messages:
        message.callback_url = callback_url
    store_and_publish(messages)
    return messages


def _check_bulk_recipients(recipients: Sequence[str]) -> None:
    limit = dialer_config().bulk_max_recipients
    if not recipients or len(recipients) > limit:
        raise InvalidInputError(errors={"recipients": [f"Give 1 to {limit} recipients."]})
    seen: dict[str, int] = {}
    for index, recipient in enumerate(recipients):
        if recipient in seen:
            raise InvalidInputError(
                errors={"recipients": {str(index): [f"Repeats recipient {seen[recipient]}."]}}
            )
        seen[recipient] = index


def send(recipient, content, related_objects=None, tag=None, *, priority=PRIORITY_LOWEST,
         is_autodialer=True, send_at=None, valid_until=None, calling_hours=None, callback_url=None,
         **kwargs) -> DialerMessage:
    """The seed's `send`: extra keyword arguments are stored in `extra_data`. `send_at` and
    `valid_until` (aware datetimes) and `calling_hours` time the call (README, "Call timing");
    `callback_url` receives the message's signed status callbacks."""
    return send_message(
        recipient, content, related_objects=related_objects, tag=tag, extra_data=kwargs,
        priority=priority, is_autodialer=is_autodialer, send_at=send_at, valid_until=valid_until,
        calling_hours=calling_hours, callback_url=callback_url,
    )
