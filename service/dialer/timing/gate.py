"""Whether a message may be published now: send_at, valid_until, calling hours, public
holidays and the recipient's daily limit. Every hold is a state change through the state
machine, so it lands in the message's history."""
from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config import TimingConfig
from service.dialer.runtime import current_backend
from service.dialer.timing.hours import (
    SEARCH_DAYS,
    is_holiday,
    next_opening,
    parse_calling_hours,
    place_of,
)
from service.extensions import db
from service.infrastructure.locks import lock_keys
from service.models.message import DialerMessage
from service.models.state_machine import record_decision, transition
from service.models.states import DialerMessageState

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Hold:
    """Why a message may not be published now: it waits until `until`, or expires (`until` None)."""

    reason: str  # send_at, calling_hours, public_holiday, recipient_limit, valid_until
    until: Optional[datetime]
    text: str


def _hours_hold(message: DialerMessage, now: datetime, timing: TimingConfig) -> Optional[Hold]:
    spec = message.calling_hours or timing.calling_hours
    if not spec:
        return None
    place = place_of(message.recipient, timing.timezone)
    opening = next_opening(parse_calling_hours(spec), place, now, timing.skip_public_holidays, timing.timezone)
    if opening == now:
        return None
    until = opening or now + timedelta(days=SEARCH_DAYS)
    local_day = now.astimezone(ZoneInfo(place.zones[0])).date()
    if timing.skip_public_holidays and is_holiday(place.region, local_day):
        return Hold("public_holiday", until, f"a public holiday in {place.region}")
    return Hold("calling_hours", until, f"outside the calling hours ({spec})")


def _limit_hold(times: list[datetime], now: datetime, limit: Optional[int]) -> Optional[Hold]:
    """`times`: when the recipient's messages of the last 24 hours were published, oldest first."""
    if limit is None or len(times) < limit:
        return None
    until = times[len(times) - limit] + DAY
    return Hold("recipient_limit", until, f"the recipient's limit of {limit} messages in 24 hours")


def hold_of(message: DialerMessage, now: datetime, timing: TimingConfig,
            recent: Optional[list[datetime]] = None) -> Optional[Hold]:
    """Why `message` may not be published at `now`, or None. `recent`: the recipient's
    publishing times of the last 24 hours (for DIALER_RECIPIENT_DAILY_LIMIT)."""
    if message.valid_until is not None and now >= message.valid_until:
        return Hold("valid_until", None, f"not published before its valid_until ({message.valid_until.isoformat()})")
    if message.send_at is not None and now < message.send_at:
        hold: Optional[Hold] = Hold("send_at", message.send_at, "its send_at")
    else:
        hold = _hours_hold(message, now, timing) or _limit_hold(recent or [], now, timing.recipient_daily_limit)
    if hold is not None and message.valid_until is not None and hold.until > message.valid_until:
        # It will expire before it could be published: wake it then, to expire it.
        return Hold(hold.reason, message.valid_until, hold.text)
    return hold


def recent_publishing(messages: Sequence[DialerMessage], now: datetime) -> dict[str, list[datetime]]:
    """When the recipients' other messages of the last 24 hours were first handed to the provider."""
    times: dict[str, list[datetime]] = defaultdict(list)
    if not messages:
        return times
    rows = db.session.execute(
        select(DialerMessage.recipient, DialerMessage.published_at)
        .where(DialerMessage.recipient.in_({m.recipient for m in messages}),
               DialerMessage.published_at > now - DAY,
               DialerMessage.id.not_in([m.id for m in messages if m.id is not None]))
        .order_by(DialerMessage.published_at)
    )
    for recipient, published_at in rows:
        times[recipient].append(published_at)
    return times


def apply_hold(message: DialerMessage, hold: Hold) -> None:
    """Record `hold` on `message`: SCHEDULED until `hold.until`, or EXPIRED. A message an earlier
    attempt may have handed to the provider is not reported EXPIRED until its record is taken
    back: it is marked for the take-back instead (`withdrawal`)."""
    message.leased_until = None
    # The attempt counted when the message was claimed did not happen.
    message.number_of_send_attempts = max((message.number_of_send_attempts or 0) - 1, 0)
    if hold.until is None and message.published_at is not None and current_backend().can_remove_records():
        message.withdrawal = "expire"
        record_decision(message, source="schedule", payload={"reason": hold.reason},
                        note=f"Expiring: {hold.text}; an earlier attempt may have reached the provider, "
                             "so its record is taken back first.")
        return
    if hold.until is None:
        message.next_attempt_at = None
        transition(message, DialerMessageState.EXPIRED, source="schedule", final=True,
                   error=f"Expired: {hold.text}.", payload={"reason": hold.reason})
        return
    note = f"Deferred until {hold.until.isoformat()} because of {hold.text}."
    message.next_attempt_at = hold.until
    transition(message, DialerMessageState.SCHEDULED, source="schedule", note=note,
               payload={"reason": hold.reason, "until": hold.until.isoformat()})
    message.schedule_note = note


def gate_messages(messages: Sequence[DialerMessage], now: datetime, timing: TimingConfig) -> list[DialerMessage]:
    """Hold (schedule or expire) the messages that may not be published at `now`; the others,
    in order, may be. Messages let through count toward their recipient's daily limit from
    their first attempt (`published_at`)."""
    limit = timing.recipient_daily_limit
    if limit:
        # Another publisher deciding for the same recipients waits until this decision is committed
        # (the caller commits before calling the provider), so it counts these messages too.
        lock_keys("recipient-daily-limit", {message.recipient for message in messages})
    recent = recent_publishing(messages, now) if limit else {}
    passed = []
    for message in messages:
        hold = hold_of(message, now, timing, recent.get(message.recipient))
        if hold is not None:
            apply_hold(message, hold)
            continue
        message.schedule_note = None
        message.published_at = message.published_at or now
        if limit:
            bisect.insort(recent[message.recipient], message.published_at)
        passed.append(message)
    return passed
