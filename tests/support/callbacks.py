"""What the callback tests share: settings, a clock the tests move, API shortcuts, a dispatcher run."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from standardwebhooks.webhooks import Webhook

from config import CallbackConfig
from service.dialer.callbacks.dispatch import Dispatcher

SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Clock:
    """The real time moved on by as much as the test says (so that what was stored a moment ago
    is due, and signatures made without a move verify)."""

    def __init__(self):
        self.offset = timedelta()

    @property
    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def callback_settings(**overrides) -> CallbackConfig:
    values = dict(signing_secret=SIGNING_SECRET, allow_private_networks=True, concurrency=4,
                  connect_timeout_seconds=1.0, timeout_seconds=0.5)
    return CallbackConfig(**{**values, **overrides})


def create_endpoint(api, url, **fields):
    response = api.post("/api/v1/callback-endpoints", json={"url": url, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def send_message(api, **fields):
    response = api.post("/api/v1/messages", json={"recipient": "+420777123456", "content": "Hello", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dispatch(app, clock=None, **settings):
    with app.app_context():
        dispatcher = Dispatcher(callback_settings(**settings), clock=clock)  # None: the dialer's clock
        try:
            return dispatcher.run()
        finally:
            dispatcher.transport.close()


def verified(received, secret):
    return Webhook(secret).verify(received.body, received.headers)
