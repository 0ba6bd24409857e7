"""Taking calls back: cancelling messages, and removing the provider's record of a message
that was cancelled or expired before it was dialled.

A message is reported CANCELLED or EXPIRED only once the provider can no longer dial it:
either it never reached the provider (no publisher holds it), or its record was removed
(`DialerBackend.remove_record`; a record already gone counts). While a removal is pending the
message keeps its state and carries `withdrawal` ("cancel:<channel>" or "expire"); the worker
retries it. No transaction is open while the provider is called.
"""
from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Optional, Sequence

from sqlalchemy import and_, or_, select

from service.backends.base import ProviderError
from service.dialer.runtime import current_backend, now
from service.errors import BackendNotSupportedError, exception_origin
from service.extensions import db
from service.infrastructure.transactions import end_transaction, transaction
from service.models.message import DialerMessage
from service.models.state_machine import record_decision, transition
from service.models.states import DialerMessageState as S

logger = logging.getLogger(__name__)

PRE_PUBLISH_STATES = frozenset({S.WAITING, S.SCHEDULED, S.ERROR_RETRY})
# Published, not yet dialled: the record can be taken back.
REMOVABLE_STATES = frozenset({S.NOT_ASSIGNED, S.READY, S.RESCHEDULED_BY_DIALER, S.RESCHEDULED})
CANCELLABLE_STATES = PRE_PUBLISH_STATES | REMOVABLE_STATES
CHANNELS = ("api", "console", "python")
TAKE_BACK_BATCH = 100


class CancelOutcome(str, enum.Enum):
    CANCELLED = "cancelled"  # final: the provider cannot dial it
    PENDING = "pending"  # the provider's record is being taken back; the worker finishes it
    REFUSED = "refused"  # the call is in progress or the message is final otherwise


def locked_messages(ids: Sequence[int]) -> list[DialerMessage]:
    """The messages, read afresh and locked (PostgreSQL) until the transaction ends, in id order."""
    query = (select(DialerMessage).where(DialerMessage.id.in_(ids)).order_by(DialerMessage.id)
             .execution_options(populate_existing=True))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(db.session.scalars(query))


def is_leased(message: DialerMessage, moment: datetime) -> bool:
    """A publisher holds the message: it may be creating the provider's record right now."""
    return message.leased_until is not None and message.leased_until > moment


def _final_state(withdrawal: str) -> S:
    return S.CANCELLED if withdrawal.startswith("cancel") else S.EXPIRED


def _finish(message: DialerMessage, note: str) -> None:
    withdrawal = message.withdrawal or "cancel"
    state = _final_state(withdrawal)
    channel = withdrawal.partition(":")[2] or None
    message.withdrawal = None
    message.next_attempt_at = None
    error = "Expired: valid_until passed before the call was dialled." if state == S.EXPIRED else None
    transition(message, state, source="cancel" if state == S.CANCELLED else "expiry", final=True,
               error=error, note=note, payload={"channel": channel} if channel else {})


def request_cancel(message: DialerMessage, channel: str, moment: datetime, can_remove: bool) -> CancelOutcome:
    """Decide a cancel of a locked `message` (the caller commits): cancelled at once when no
    provider can hold it, else marked for the take-back of its record (refused when the backend
    cannot take records back)."""
    if message.state == S.CANCELLED:
        return CancelOutcome.CANCELLED
    if message.is_final_state or message.state not in CANCELLABLE_STATES:
        return CancelOutcome.REFUSED
    if not can_remove and (message.state in REMOVABLE_STATES or message.published_at is not None):
        return CancelOutcome.REFUSED
    if message.withdrawal is not None and message.withdrawal.startswith("cancel"):
        return CancelOutcome.PENDING
    message.withdrawal = f"cancel:{channel}"
    if message.state in PRE_PUBLISH_STATES and not is_leased(message, moment) and message.published_at is None:
        _finish(message, f"Cancelled through the {channel} before it was published.")
        return CancelOutcome.CANCELLED
    record_decision(message, source="cancel", payload={"channel": channel},
                    note=f"Cancel requested through the {channel}: the provider's record is taken back first.")
    return CancelOutcome.PENDING


def _remove(messages: Sequence[DialerMessage]) -> dict[int, Optional[str]]:
    """Ask the provider to remove each record; per id None (removed or gone) or why not."""
    backend = current_backend()
    results: dict[int, Optional[str]] = {}
    for message in messages:
        try:
            backend.remove_record(message)
            results[message.id] = None
        except (ProviderError, BackendNotSupportedError) as exc:
            results[message.id] = str(exc)
        except Exception as exc:
            logger.error("dialer backend %s raised %s", backend.dotted_path(), exception_origin(exc))
            results[message.id] = f"The dialer backend failed ({type(exc).__name__})."
    return results


def _settle_removal(message: DialerMessage, problem: Optional[str], moment: datetime) -> bool:
    """Record the removal's outcome on the locked `message`; True when it became final."""
    if message.withdrawal is None:
        return False
    if problem is not None:
        logger.warning("could not take back the record of message %s: %s", message.id, problem)
        return False
    if message.state in REMOVABLE_STATES or (message.state in PRE_PUBLISH_STATES
                                            and not is_leased(message, moment)):
        _finish(message, "The provider's record was removed before the call was dialled.")
        return True
    if message.state in PRE_PUBLISH_STATES:
        return False  # a publisher holds it: it takes the record back once it has published
    message.withdrawal = None
    record_decision(message, source="cancel", note=f"Not taken back: the message is {message.state.value}; "
                    "a call already in progress finishes normally.")
    return False


def take_back(messages: Sequence[DialerMessage]) -> int:
    """Remove the records of messages marked for it (committed; no transaction open), then record
    the outcome; failures stay marked for the worker. Returns how many became final."""
    end_transaction()
    if not messages:
        return 0
    results = _remove(messages)
    moment = now()
    with transaction():
        return sum(_settle_removal(m, results.get(m.id), moment) for m in locked_messages(list(results)))


def _due_for_take_back(moment: datetime):
    removable = DialerMessage.state.in_(REMOVABLE_STATES)
    unleased = and_(DialerMessage.state.in_(PRE_PUBLISH_STATES),
                    or_(DialerMessage.leased_until.is_(None), DialerMessage.leased_until <= moment))
    return or_(and_(DialerMessage.withdrawal.is_not(None), or_(removable, unleased)),
               and_(removable, DialerMessage.valid_until <= moment))


def take_back_due_records(limit: int = 1000) -> int:
    """The worker's job: take back the records of cancelled messages whose removal failed or
    waited for a publisher, and of published messages past their valid_until. Returns how many
    messages became final."""
    if not current_backend().can_remove_records():
        return 0
    moment = now()
    ids = list(db.session.scalars(select(DialerMessage.id).where(_due_for_take_back(moment))
                                  .order_by(DialerMessage.id).limit(limit)))
    end_transaction()
    done = 0
    for start in range(0, len(ids), TAKE_BACK_BATCH):
        with transaction():
            batch = []
            for message in locked_messages(ids[start:start + TAKE_BACK_BATCH]):
                expired = message.valid_until is not None and message.valid_until <= moment
                if message.withdrawal is None and expired and message.state in REMOVABLE_STATES:
                    message.withdrawal = "expire"
                    record_decision(message, source="expiry", note="valid_until passed before the call was "
                                    "dialled: the provider's record is taken back.")
                if message.withdrawal is not None:
                    batch.append(message)
        done += take_back(batch)
    return done
