"""Cancelling messages: one by id, or every cancellable message matching a filter."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, select

from service.dialer.messages import MessageFilter, MessageNotFoundError, message_conditions
from service.dialer.runtime import current_backend, now
from service.dialer.timing.withdrawal import (
    CANCELLABLE_STATES,
    CHANNELS,
    REMOVABLE_STATES,
    TAKE_BACK_BATCH,
    CancelOutcome,
    is_leased,
    locked_messages,
    request_cancel,
    take_back,
)
from service.errors import ConflictError, InvalidInputError
from service.extensions import db
from service.infrastructure.transactions import end_transaction, transaction
from service.models.message import DialerMessage

# Most messages one filtered cancel handles; a caller repeats the request while `more` is true.
MAX_CANCEL_PER_REQUEST = 1000


class NotCancellableError(ConflictError):
    default_message = "The message can no longer be cancelled."


def _cancel_batch(ids: list[int], channel: str) -> tuple[dict[int, CancelOutcome], list[DialerMessage]]:
    """Decide the cancel of each message under lock and commit; then take back the records of the
    published ones (no lock or transaction held across the provider calls)."""
    can_remove = current_backend().can_remove_records()
    moment = now()
    with transaction():
        messages = locked_messages(ids)
        outcomes = {m.id: request_cancel(m, channel, moment, can_remove) for m in messages}
    removing = [m for m in messages if outcomes[m.id] is CancelOutcome.PENDING and not is_leased(m, moment)]
    take_back(removing)
    for message in removing:
        if message.state.value == "CANCELLED":
            outcomes[message.id] = CancelOutcome.CANCELLED
        elif message.withdrawal is None:  # its call started while the record was being removed
            outcomes[message.id] = CancelOutcome.REFUSED
    return outcomes, messages


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")


def cancel_message(message_id: int, channel: str = "api") -> tuple[DialerMessage, CancelOutcome]:
    """Cancel one message (see README, "Call timing"): CANCELLED, or PENDING while the provider's
    record is taken back. NotCancellableError (409) once a call is in progress or the message is
    final otherwise; repeating a cancel gives the same answer."""
    _check_channel(channel)
    outcomes, messages = _cancel_batch([message_id], channel)
    if not messages:
        raise MessageNotFoundError()
    message, outcome = messages[0], outcomes[message_id]
    if outcome is CancelOutcome.REFUSED:
        raise NotCancellableError(f"The message is {message.state.value}: it can no longer be cancelled.",
                                  errors={"state": message.state.value})
    return message, outcome


def is_cancellable(message: DialerMessage) -> bool:
    """Whether a cancel of `message` would take it back now: not final, not dialled, not already
    being taken back, and (once published) the backend can remove its record."""
    if message.is_final_state or message.state not in CANCELLABLE_STATES:
        return False
    if message.withdrawal is not None and message.withdrawal.startswith("cancel"):
        return False
    published = message.state in REMOVABLE_STATES or message.published_at is not None
    return not published or current_backend().can_remove_records()


def cancel(message: DialerMessage) -> CancelOutcome:
    """The Python API: cancel `message` (a DialerMessage or its id); a DialerMessage of the current
    session shows its new state afterwards. NotCancellableError once its call is in progress."""
    message_id = message if isinstance(message, int) else message.id
    _, outcome = cancel_message(message_id, channel="python")
    return outcome


@dataclass
class CancelReport:
    matched: int = 0
    outcomes: Counter = field(default_factory=Counter)
    more: bool = False

    def as_dict(self) -> dict:
        return {"matched": self.matched, "more": self.more,
                **{outcome.value: self.outcomes.get(outcome, 0) for outcome in CancelOutcome}}


def cancel_matching(filters: MessageFilter, channel: str = "api",
                    limit: int = MAX_CANCEL_PER_REQUEST) -> CancelReport:
    """Cancel up to `limit` cancellable messages matching `filters` (a tag, a related object or a
    template slug required), in batches; `more` says whether others still match."""
    _check_channel(channel)
    if not (filters.tag or filters.template_slug or filters.content_type):
        raise InvalidInputError(errors={"_schema": ["Give tag, template_slug, or content_type and object_id."]})
    query = (select(DialerMessage.id)
             .where(and_(DialerMessage.state.in_(CANCELLABLE_STATES), DialerMessage.is_final_state.is_(False),
                         DialerMessage.withdrawal.is_(None), *message_conditions(filters)))
             .order_by(DialerMessage.id).limit(limit + 1))
    ids = list(db.session.scalars(query))
    end_transaction()
    report = CancelReport(matched=min(len(ids), limit), more=len(ids) > limit)
    for start in range(0, report.matched, TAKE_BACK_BATCH):
        outcomes, _ = _cancel_batch(ids[start:min(start + TAKE_BACK_BATCH, report.matched)], channel)
        report.outcomes.update(outcomes.values())
    return report

