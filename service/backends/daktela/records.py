"""Reading Daktela campaign records leniently, and Daktela's codes in our terms."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from service.models.states import DialerMessageState

ACTION_STATES = {
    0: DialerMessageState.NOT_ASSIGNED,
    1: DialerMessageState.READY,
    2: DialerMessageState.RESCHEDULED_BY_DIALER,
    3: DialerMessageState.CALL_IN_PROGRESS,
    4: DialerMessageState.HANGUP,
    5: DialerMessageState.DONE,
    6: DialerMessageState.RESCHEDULED,
}


@dataclass(frozen=True)
class RecordSnapshot:
    name: str
    action: Optional[int]
    statuses: tuple[str, ...]
    edited: Optional[str]
    nextcall: Optional[str]
    call_id: Optional[str]

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
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return tuple(names)


def _optional_text(value: Any) -> Optional[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and value.strip().lower() != "null":
        return value.strip()
    return None


def parse_record(record: dict) -> RecordSnapshot:
    return RecordSnapshot(
        name=str(record["name"]),
        action=parse_action(record.get("action")),
        statuses=parse_statuses(record.get("statuses")),
        edited=_optional_text(record.get("edited")),
        nextcall=_optional_text(record.get("nextcall")),
        call_id=_optional_text(record.get("call_id")),
    )


def daktela_number(e164: str) -> str:
    """Daktela dials international numbers written with 00 instead of +."""
    return "00" + e164[1:] if e164.startswith("+") else e164
