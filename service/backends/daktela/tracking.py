"""How the tracking core follows Daktela: record names, the change feed, look-ups, webhooks.

The feed lists our records (by name prefix) edited since the previous run's
`_time` minus DAKTELA_POLL_OVERLAP_SECONDS: `edited` has one-second
resolution and Daktela's clock is its own, so the overlap re-reads a little
instead of missing a change made in the same second as the last read.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Iterator, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

from config import DaktelaConfig
from service.backends.daktela.client import DaktelaClient
from service.backends.daktela.records import DAKTELA_TIME_FORMAT, RecordSnapshot, parse_daktela_time, parse_record
from service.backends.daktela.states import StateRules
from service.backends.daktela.webhook import parse_webhook
from service.models.state_machine import Observation

LIST_PAGE_SIZE = 1000  # Daktela's largest `take`


def _parse_records(data: list) -> list[RecordSnapshot]:
    """Records that have a name; the others cannot be matched to a message."""
    return [parse_record(item) for item in data if isinstance(item.get("name"), str)]


class DaktelaTracking:
    """The tracking half of `DaktelaDialerBackend` (see `DialerBackend`'s tracking methods)."""

    settings: DaktelaConfig
    client: DaktelaClient
    webhook_name = "daktela"
    provider_name = "Daktela"

    @cached_property
    def state_rules(self) -> StateRules:
        return StateRules(self.settings.states_mapping, self.settings.final_actions)

    def record_name_for(self, message_id: int) -> str:
        return f"{self.settings.record_name_prefix}{message_id}"

    def message_id_for(self, record_name: str) -> Optional[int]:
        prefix = self.settings.record_name_prefix
        if not isinstance(record_name, str) or not record_name.startswith(prefix):
            return None
        rest = record_name[len(prefix):]
        return int(rest) if rest.isdigit() and rest.isascii() and len(rest) < 19 else None

    def observation_of(self, record: RecordSnapshot, source: str) -> Observation:
        return record.observation(source, self.settings.timezone, self.state_rules)

    def ordering_key_of(self, record: RecordSnapshot) -> tuple[Optional[datetime], str]:
        return record.ordering_key(self.settings.timezone, self.state_rules)

    def tracking_clock(self) -> Optional[str]:
        """Daktela's clock (`_time`), read with the smallest list request."""
        return self.client.list_records({**self._our_records_filter(), "take": 1}).time

    def watermark_at(self, moment: datetime) -> str:
        """`moment` as Daktela writes times: its instance's local time, no zone."""
        return moment.astimezone(ZoneInfo(self.settings.timezone)).strftime(DAKTELA_TIME_FORMAT)

    def changed_records(self, watermark: str) -> Iterator[tuple[list[RecordSnapshot], Optional[str]]]:
        """Our records edited since `watermark` minus the overlap, oldest first, a page at a time."""
        since = self._since(watermark)
        skip = 0
        while True:
            params = {
                "filter[logic]": "and",
                "filter[filters][0][field]": "name",
                "filter[filters][0][operator]": "like",
                "filter[filters][0][value]": f"{self.settings.record_name_prefix}%",
                "filter[filters][1][field]": "edited",
                "filter[filters][1][operator]": "gte",
                "filter[filters][1][value]": since,
                "sort[0][field]": "edited", "sort[0][dir]": "asc",
                "skip": skip, "take": LIST_PAGE_SIZE,
            }
            envelope = self.client.list_records(params)
            yield _parse_records(envelope.result["data"]), envelope.time
            if len(envelope.result["data"]) < LIST_PAGE_SIZE:
                return
            skip += LIST_PAGE_SIZE

    def _since(self, watermark: str) -> str:
        parsed = parse_daktela_time(watermark)
        if parsed is None:
            return watermark
        return (parsed - timedelta(seconds=self.settings.poll_overlap_seconds)).strftime(DAKTELA_TIME_FORMAT)

    def look_up_records(self, names: Sequence[str]) -> dict[str, RecordSnapshot]:
        params: dict[str, Any] = {"filter[field]": "name", "filter[operator]": "in", "take": LIST_PAGE_SIZE}
        for index, name in enumerate(names):
            params[f"filter[value][{index}]"] = name
        envelope = self.client.list_records(params)
        return {record.name: record for record in _parse_records(envelope.result["data"])}

    def _our_records_filter(self) -> dict[str, str]:
        return {"filter[field]": "name", "filter[operator]": "like",
                "filter[value]": f"{self.settings.record_name_prefix}%"}

    def webhook_secrets(self) -> tuple[str, ...]:
        return tuple(self.settings.webhook_secrets)

    def parse_webhook(self, values: Mapping[str, Any]) -> tuple[str, Optional[Observation]]:
        return parse_webhook(values, self.settings.timezone, self.state_rules)
