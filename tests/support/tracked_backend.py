"""A custom backend written only against service/backends/base.py, with its own provider:
"Acme", whose calls carry a status and an update time, whose webhook body is
{"call": name, "status": ..., "updated": ISO time} (or just {"call": name}, a hint),
and whose change feed lists calls updated since a time."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping, Optional, Sequence

from service.backends.base import DialerBackend, ProviderError
from service.errors import InvalidInputError
from service.models.state_machine import Observation, apply_observation
from service.models.states import DialerMessageState as S

ACME_STATES = {"queued": S.READY, "ringing": S.CALL_IN_PROGRESS, "completed": S.ANSWERED_COMPLETE,
               "declined": S.DECLINED, "no-answer": S.UNANSWERED}
ACME_FINAL = {"completed", "declined", "no-answer"}
SECRET = "acme-webhook-secret"


@dataclass(frozen=True)
class AcmeCall:
    name: str
    status: str
    updated: datetime


class AcmeProvider:
    """Acme's side: its calls and its own clock (moved by the tests)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: dict[str, AcmeCall] = {}
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)
        self.reachable = True
        self.requests = 0

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def set_status(self, name: str, status: str) -> None:
        with self.lock:
            self.calls[name] = AcmeCall(name, status, self.tick())

    def ask(self) -> None:
        self.requests += 1
        if not self.reachable:
            raise ProviderError("Acme did not answer.")


PROVIDER = AcmeProvider()


class AcmeBackend(DialerBackend):
    webhook_name = "acme"
    provider_name = "Acme"

    def publish_message(self, message) -> None:
        name = self.record_name_for(message.id)
        PROVIDER.set_status(name, "queued")
        message.sent_at = PROVIDER.now
        apply_observation(message, self.observation_of(PROVIDER.calls[name], "publish"))

    def record_name_for(self, message_id: int) -> str:
        return f"acme-{message_id}"

    def message_id_for(self, record_name: str) -> Optional[int]:
        prefix, _, number = record_name.partition("-")
        return int(number) if prefix == "acme" and number.isdigit() else None

    def observation_of(self, record: AcmeCall, source: str) -> Observation:
        return Observation(source=source, state=ACME_STATES.get(record.status), final=record.status in ACME_FINAL,
                           edited=record.updated, sender_data={"acme_status": record.status},
                           payload={"call": record.name, "status": record.status})

    def tracking_clock(self) -> Optional[str]:
        PROVIDER.ask()
        return PROVIDER.now.isoformat()

    def watermark_at(self, moment: datetime) -> str:
        return moment.isoformat()

    def changed_records(self, watermark: str) -> Iterator[tuple[list[AcmeCall], Optional[str]]]:
        PROVIDER.ask()
        since = datetime.fromisoformat(watermark)
        with PROVIDER.lock:
            changed = [call for call in PROVIDER.calls.values() if call.updated >= since]
        yield changed, PROVIDER.now.isoformat()

    def look_up_records(self, names: Sequence[str]) -> dict[str, AcmeCall]:
        PROVIDER.ask()
        return {name: PROVIDER.calls[name] for name in names if name in PROVIDER.calls}

    def webhook_secrets(self) -> tuple[str, ...]:
        return (SECRET,)

    def parse_webhook(self, values: Mapping[str, Any]) -> tuple[str, Optional[Observation]]:
        name = values.get("call")
        if not isinstance(name, str):
            raise InvalidInputError("An Acme webhook names its call.", errors={"call": ["Missing."]})
        if "status" not in values:
            return name, None
        try:
            call = AcmeCall(name, str(values["status"]), datetime.fromisoformat(str(values["updated"])))
        except (KeyError, ValueError):
            raise InvalidInputError(errors={"updated": ["An ISO 8601 time."]}) from None
        return name, self.observation_of(call, "webhook")
