"""A clock the tests move: installed as the dialer's "now" (service.dialer.runtime.set_clock)."""
from __future__ import annotations

from datetime import datetime, timedelta

from service.dialer.runtime import set_clock


class ManualClock:
    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment

    def set(self, moment: datetime) -> datetime:
        self.moment = moment
        return moment

    def install(self, app) -> "ManualClock":
        set_clock(app, self)
        return self
