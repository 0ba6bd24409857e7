"""Reading Daktela campaign records leniently, and Daktela's codes in our terms."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Optional
from zoneinfo import ZoneInfo

from service.backends.daktela.states import StateRules, daktela_observation, daktela_observation_key
from service.models.state_machine import Observation
from service.models.types import utcnow

DAKTELA_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TIME_FORMATS = (DAKTELA_TIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S.%f")


def parse_daktela_time(value: Any) -> Optional[datetime]:
    """Daktela's `YYYY-MM-DD HH:MM:SS`: instance-local, so naive; aware only when
    the text itself carries an offset."""
    if not isinstance(value, str):
        return None
    if len(value) == 19 and value[10] == " ":
        # Daktela's own format, the common case: fromisoformat reads it in a fraction of strptime's time.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    text = value.strip()
    if not text or text.lower() == "null":
        return None
    for time_format in TIME_FORMATS:
        try:
            return datetime.strptime(text, time_format)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _instants(value: datetime, zone: str) -> tuple[datetime, datetime]:
    """The one or two UTC instants a naive wall-clock time in `zone` can be (cached: a
    poller page holds many records edited in the same few seconds)."""
    tz = ZoneInfo(zone)
    return (value.replace(tzinfo=tz, fold=0).astimezone(timezone.utc),
            value.replace(tzinfo=tz, fold=1).astimezone(timezone.utc))


@lru_cache(maxsize=4096)
def _text_instants(text: str, zone: str) -> Optional[tuple[datetime, datetime]]:
    """The one or two UTC instants a Daktela time text can be, read in `zone` (cached by text:
    a page of records holds a few distinct seconds); None for no time."""
    value = parse_daktela_time(text)
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
        return value, value
    return _instants(value, zone)


# How far ahead of our clock Daktela's may run (clock skew and delivery).
CLOCK_SKEW = timedelta(minutes=5)


def daktela_local_to_utc(value: Optional[datetime], zone: str,
                         received_at: Optional[datetime] = None) -> Optional[datetime]:
    """A Daktela time as aware UTC, reading a naive one in `zone`.

    When daylight saving time ends, an hour of wall-clock times happens twice.
    Given `received_at` (when we learned of a past event, such as an edit), such
    a time is the later instant unless that lies in the future, since Daktela
    cannot report an edit that has not happened yet; without it, the earlier.
    """
    if value is None:
        return None
    if value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    return _one_instant(*_instants(value, zone), received_at)


def _one_instant(first: datetime, second: datetime, received_at: Optional[datetime]) -> datetime:
    """Of a wall-clock time's instants, the one `daktela_local_to_utc` describes."""
    if second > first and received_at is not None and second <= received_at + CLOCK_SKEW:
        return second
    return first


@dataclass(frozen=True)
class RecordSnapshot:
    name: str
    action: Optional[int]
    statuses: tuple[str, ...]
    edited: Optional[str]
    nextcall: Optional[str]
    call_id: Optional[str]

    def observation(self, source: str, zone: str, rules: StateRules,
                    received_at: Optional[datetime] = None) -> Observation:
        """This record as an observation for the state machine; times read in `zone`,
        the record having been read at `received_at` (now)."""
        return daktela_observation(
            source, self.action, self.statuses, edited=self._edited(zone, received_at),
            nextcall=daktela_local_to_utc(parse_daktela_time(self.nextcall), zone),
            call_id=self.call_id, payload=self.as_sender_data(), rules=rules,
        )

    def ordering_key(self, zone: str, rules: StateRules,
                     received_at: Optional[datetime] = None) -> tuple[Optional[datetime], str]:
        """(edited, observation key) of `observation(...)`, without building it."""
        edited = self._edited(zone, received_at)
        nextcall = daktela_local_to_utc(parse_daktela_time(self.nextcall), zone)
        return edited, daktela_observation_key(self.action, self.statuses, edited, nextcall, self.call_id, rules)

    def _edited(self, zone: str, received_at: Optional[datetime]) -> Optional[datetime]:
        """`edited` in UTC; the record read at `received_at`, else now (asked of the clock only
        for a time the end of daylight saving time makes ambiguous)."""
        instants = _text_instants(self.edited, zone) if isinstance(self.edited, str) else None
        if instants is None:
            return None
        first, second = instants
        return _one_instant(first, second, received_at or utcnow()) if second > first else first

    def as_sender_data(self) -> dict[str, Any]:
        return {
            "record_name": self.name,
            "action": self.action,
            "statuses": list(self.statuses),
            "edited": self.edited,
            "nextcall": self.nextcall,
            "call_id": self.call_id,
        }


def parse_action(value: Any) -> Optional[int]:
    """`action` as an int: Daktela sends "5" (older) or 5 (newer); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def parse_statuses(value: Any) -> tuple[str, ...]:
    """Status names from a list of status objects or of names."""
    if not isinstance(value, list):
        return ()
    names = (item.get("name") if isinstance(item, dict) else item for item in value)
    return tuple(filter(None, (optional_text(name) for name in names if isinstance(name, str))))


def optional_text(value: Any) -> Optional[str]:
    """A value Daktela sent as text, or None for nothing, blank or a spelled-out null.

    NUL characters are dropped: they carry nothing, and PostgreSQL cannot store them.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text if text and text.lower() not in ("null", "none", "undefined") else None


def parse_record(record: dict) -> RecordSnapshot:
    return RecordSnapshot(
        name=str(record["name"]),
        action=parse_action(record.get("action")),
        statuses=parse_statuses(record.get("statuses")),
        edited=optional_text(record.get("edited")),
        nextcall=optional_text(record.get("nextcall")),
        call_id=optional_text(record.get("call_id")),
    )


def daktela_number(e164: str) -> str:
    """Daktela dials international numbers written with 00 instead of +."""
    return "00" + e164[1:] if e164.startswith("+") else e164
