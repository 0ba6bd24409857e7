"""Standard Webhooks signatures (the `standardwebhooks` library; no HMAC written here)."""
from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Iterable

from standardwebhooks.webhooks import Webhook

SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh `whsec_…` secret, as receivers' Standard Webhooks libraries read it."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(webhook_id: str, timestamp: datetime, body: str, secrets_: Iterable[str]) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: one `v1,` signature per secret,
    space-separated (during a rotation, receivers holding either secret can verify)."""
    signatures = " ".join(Webhook(secret).sign(webhook_id, timestamp, body) for secret in secrets_)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
        "Content-Type": "application/json",
    }
