"""The simulator's state: records, statuses, faults, webhooks and call playback."""
from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import requests

logger = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FAULT_KINDS = (
    "500", "502_html", "429", "401", "timeout", "timeout_after_write",
    "truncated", "lost_after_write", "garbage", "400_validation",
)
# Statuses of a typical TTS campaign; names are instance-specific in real Daktela.
DEFAULT_STATUSES = {
    "statuses_answered_complete": "Listened complete message",
    "statuses_answered_partial": "Listened part of message",
    "statuses_unreachable": "Unreachable",
    "statuses_declined": "Declined",
    "statuses_unanswered": "Not answered",
}


@dataclass
class Fault:
    kind: str
    method: Optional[str] = None
    remaining: int = 1


@dataclass
class Hook:
    url: str
    headers: dict = field(default_factory=dict)
    body_format: str = "json"  # or "form"


class Simulator:
    """Thread-safe in-memory Daktela. `SimulatorServer` serves it over HTTP."""

    def __init__(self, access_tokens=("simulator-token",), action_as_int=False, timeout_seconds=2.0,
                 retry_after="1", autoplay_seconds: Optional[float] = None, seed: int = 0,
                 tz: timezone = timezone.utc, latency_seconds: float = 0.0):
        self.access_tokens = set(access_tokens)
        self.action_as_int = action_as_int
        self.timeout_seconds = timeout_seconds
        self.retry_after = retry_after
        self.autoplay_seconds = autoplay_seconds
        self.tz = tz
        # Added to every API answer: the network and Daktela's own time, which loopback lacks.
        self.latency_seconds = latency_seconds
        self.statuses = dict(DEFAULT_STATUSES)
        self.lock = threading.RLock()
        self.records: dict[str, dict] = {}
        # A list query's matches, filtered and sorted once, serve its following pages until any
        # record changes (`touch`): a real Daktela pages through an index; refiltering 50,000
        # records a page would make the simulator, not the client, the cost.
        self._listing: Optional[tuple[Any, list[dict]]] = None
        self.faults: deque[Fault] = deque()
        self.fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = ()
        self.random = random.Random(seed)
        self.hooks: list[Hook] = []
        self.webhooks_enabled = True
        self.stats = {"requests": 0, "connections": 0, "creates": 0, "deletes": 0, "faults": 0,
                      "webhooks": 0}
        self.create_attempts: Counter[str] = Counter()
        self.request_log: deque[dict] = deque(maxlen=2000)
        self._pusher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-webhook")
        self._timers: list[threading.Timer] = []

    def reset(self) -> None:
        """Forget records, faults, counters and logs (hooks and settings stay)."""
        with self.lock:
            self.records.clear()
            self.touch()
            self.faults.clear()
            self.fault_rate = 0.0
            self.create_attempts.clear()
            self.request_log.clear()
            for key in self.stats:
                self.stats[key] = 0

    # -- time ----------------------------------------------------------------
    def now_text(self) -> str:
        return datetime.now(self.tz).strftime(TIME_FORMAT)

    def _next_edited(self, previous: Optional[str]) -> str:
        now = datetime.now(self.tz).replace(microsecond=0, tzinfo=None)
        if previous:
            # Daktela's `edited` has one-second resolution; keep it strictly increasing per record.
            now = max(now, datetime.strptime(previous, TIME_FORMAT) + timedelta(seconds=1))
        return now.strftime(TIME_FORMAT)

    # -- faults --------------------------------------------------------------
    def inject(self, kind: str, count: int = 1, method: Optional[str] = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, method.upper() if method else None, count))

    def set_fault_rate(self, rate: float, kinds=FAULT_KINDS) -> None:
        with self.lock:
            self.fault_rate, self.fault_kinds = rate, tuple(kinds)

    def take_fault(self, method: str) -> Optional[str]:
        with self.lock:
            for fault in list(self.faults):
                if fault.method in (None, method):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    self.stats["faults"] += 1
                    return fault.kind
            if self.fault_rate and self.random.random() < self.fault_rate:
                self.stats["faults"] += 1
                return self.random.choice(self.fault_kinds)
        return None

    # -- records -------------------------------------------------------------
    def log_request(self, entry: dict) -> None:
        with self.lock:
            self.request_log.append(entry)
            self.stats["requests"] += 1
            if entry["method"] == "POST" and isinstance(entry.get("json"), dict):
                self.create_attempts[str(entry["json"].get("name"))] += 1

    def create(self, data: dict) -> tuple[int, dict, Any]:
        """(status, stored record or echo, error) for a POST body."""
        record_type = data.get("record_type") or data.get("queue")
        if isinstance(record_type, dict):
            record_type = record_type.get("name")
        if not record_type:
            return 400, data, {"form": {"record_type": "Item is mandatory"}}
        with self.lock:
            name = data.get("name") or "records_" + secrets.token_hex(11)
            if not isinstance(name, str) or len(name) > 255:
                return 400, data, {"form": {"name": ["Invalid value"]}}
            if name in self.records:
                return 400, data, {"form": {"name": ["Record with this name already exists."]}}
            now = self.now_text()
            record = {
                "name": name, "record_type": str(record_type),
                "number": None if data.get("number") is None else str(data.get("number")),
                "action": _int_or(data.get("action"), 1), "statuses": [], "nextcall": data.get("nextcall"),
                "call_id": None, "activity": None, "user": None, "database": None, "contact": None,
                "customFields": _custom_fields(data.get("customFields")),
                "created": now, "edited": now,
            }
            self.records[name] = record
            self.touch()
            self.stats["creates"] += 1
        if self.autoplay_seconds:
            self._schedule_playback(name)
        return 201, record, None

    def get(self, name: str) -> Optional[dict]:
        with self.lock:
            record = self.records.get(name)
            return dict(record) if record else None

    def update(self, name: str, data: dict, source: str = "api") -> Optional[dict]:
        with self.lock:
            record = self.records.get(name)
            if record is None:
                return None
            before = (record["action"], tuple(record["statuses"]))
            if "action" in data:
                record["action"] = _int_or(data["action"], record["action"])
            if "statuses" in data:
                record["statuses"] = [s for s in (_status_name(s) for s in _listify(data["statuses"])) if s]
            for key in ("number", "nextcall", "call_id", "activity"):
                if key in data:
                    record[key] = data[key]
            if "customFields" in data:
                record["customFields"].update(_custom_fields(data["customFields"]))
            record["edited"] = self._next_edited(record["edited"])
            self.touch()
            snapshot = dict(record)
            changed = before != (record["action"], tuple(record["statuses"]))
        if changed or source == "control":
            self.push_webhooks(snapshot)
        return snapshot

    def delete(self, name: str) -> bool:
        """Remove the record; `stats["deletes"]` counts every DELETE, of a record held or not."""
        with self.lock:
            self.stats["deletes"] += 1
            self.touch()
            return self.records.pop(name, None) is not None

    def touch(self) -> None:
        """Say that `records` changed (the caller holds the lock): cached matches are dropped."""
        self._listing = None

    def matching(self, query: Any, select: Callable[[list[dict]], list[dict]]) -> list[dict]:
        """The records `select` picks for `query` (a hashable description of its filter and
        sort), reused while no record changes; the caller copies what it hands out."""
        with self.lock:
            if self._listing is None or self._listing[0] != query:
                self._listing = (query, select(list(self.records.values())))
            return self._listing[1]

    def play_call(self, name: str, action: Any = 5, statuses=(), nextcall=None, call_id=None) -> Optional[dict]:
        """Move a record through a call, as the dialer would: sets action, statuses, edited."""
        data: dict[str, Any] = {"action": action, "statuses": list(statuses)}
        if nextcall is not None:
            data["nextcall"] = nextcall
        data["call_id"] = call_id or f"call_{secrets.token_hex(6)}"
        return self.update(name, data, source="control")

    def _schedule_playback(self, name: str) -> None:
        delay = self.autoplay_seconds
        outcome = self.random.choice(sorted(self.statuses))
        call_id = f"call_{secrets.token_hex(6)}"  # one call: ringing, then its outcome
        steps = [(delay, {"action": 3, "call_id": call_id}),
                 (2 * delay, {"action": 5, "statuses": [outcome], "call_id": call_id})]
        # Keep only timers still waiting, so a long `make run` does not pile them up.
        self._timers = [timer for timer in self._timers if timer.is_alive()]
        for seconds, change in steps:
            timer = threading.Timer(seconds, lambda c=change: self.play_call(name, **c))
            timer.daemon = True
            timer.start()
            self._timers.append(timer)

    # -- serialisation -------------------------------------------------------
    def render(self, record: dict) -> dict:
        rendered = dict(record)
        rendered["action"] = record["action"] if self.action_as_int else str(record["action"])
        rendered["record_type"] = {"name": record["record_type"], "title": record["record_type"],
                                   "_sys": {"hash": None, "model": "campaignsTypes"}}
        rendered["statuses"] = [self.render_status(name) for name in record["statuses"]]
        rendered["customFields"] = record["customFields"] or []
        rendered["options"] = []
        rendered["_sys"] = {"hash": None, "model": "campaignsRecords"}
        return rendered

    def render_status(self, name: str) -> dict:
        return {"name": name, "title": self.statuses.get(name, name), "description": None,
                "validation": False, "nextcall": False, "blacklist_database": None,
                "blacklist_expiration_time": None, "color": "", "_sys": {"hash": None, "model": "statuses"}}

    # -- webhooks ------------------------------------------------------------
    def add_hook(self, url: str, headers: Optional[dict] = None, body_format: str = "json") -> None:
        with self.lock:
            self.hooks.append(Hook(url, dict(headers or {}), body_format))

    def push_webhooks(self, record: dict) -> None:
        if not self.webhooks_enabled:
            return
        for hook in list(self.hooks):
            self._pusher.submit(self._push, hook, record)

    def webhook_body(self, record: dict) -> dict:
        """The §6 default template: every placeholder rendered as text, missing ones as null."""
        def text(value):
            return "null" if value is None else str(value)

        return {"event": "crecord_update", "name": record["name"], "action": text(record["action"]),
                "statuses": json.dumps([self.render_status(s) for s in record["statuses"]]),
                "call_id": text(record.get("call_id")), "number": text(record.get("number")),
                "nextcall": text(record.get("nextcall")), "edited": text(record.get("edited"))}

    def _push(self, hook: Hook, record: dict) -> None:
        body = self.webhook_body(record)
        try:
            if hook.body_format == "form":
                requests.post(hook.url, data=body, headers=hook.headers, timeout=5)
            else:
                requests.post(hook.url, json=body, headers=hook.headers, timeout=5)
            with self.lock:
                self.stats["webhooks"] += 1
        except requests.RequestException as exc:
            logger.warning("webhook to %s failed: %s", hook.url, type(exc).__name__)

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._pusher.shutdown(wait=False, cancel_futures=True)


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _listify(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _status_name(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if value not in (None, "") else None


def _custom_fields(value: Any) -> dict:
    if not isinstance(value, dict):
        return {}
    return {str(k): [None if v is None else str(v) for v in _listify(item)] for k, item in value.items()}
