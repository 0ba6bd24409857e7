"""A status-callback receiver for `make run`: subscribes itself and verifies every callback.

At start it replaces any endpoint of the service pointing at it with a fresh one (through the
API, with the development key) and keeps the secret the answer shows once. Each callback is
then verified with the `standardwebhooks` library, as a client system would, and printed:
`VERIFIED message.state_changed #12 seq 2: READY -> CALL_IN_PROGRESS`. Callbacks to a
message's own `callback_url` (pointing here) verify with DIALER_CALLBACK_SIGNING_SECRET.

    python scripts/callback_receiver.py --port 5077 --service http://127.0.0.1:5000 --api-key dev-key
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY = 1024 * 1024


def subscribe(service: str, api_key: str, url: str, wait_seconds: float = 90) -> str:
    """A fresh endpoint for `url` (older ones for it deleted); its secret. Waits for the
    service, which may still be starting."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return _subscribe_once(service, {"Authorization": f"Bearer {api_key}"}, url)
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _subscribe_once(service: str, headers: dict, url: str) -> str:
    listed = requests.get(f"{service}/api/v1/callback-endpoints?limit=500", headers=headers, timeout=10)
    listed.raise_for_status()
    for endpoint in listed.json()["items"]:
        if endpoint["url"] == url:
            requests.delete(f"{service}/api/v1/callback-endpoints/{endpoint['id']}", headers=headers,
                            timeout=10).raise_for_status()
    created = requests.post(f"{service}/api/v1/callback-endpoints", headers=headers, timeout=10,
                            json={"url": url, "description": "make run's callback receiver"})
    created.raise_for_status()
    return created.json()["secret"]


def describe(event: dict) -> str:
    data = event["data"]
    change = f"{data['previous_state']} -> {data['state']}" if data["previous_state"] else data["state"]
    return f"{event['type']} #{data['id']} seq {data['sequence']}: {change}"


class Handler(BaseHTTPRequestHandler):
    secrets: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length).decode()
        for secret in self.secrets:
            try:
                event = Webhook(secret).verify(body, dict(self.headers))
            except WebhookVerificationError:
                continue
            print(f"VERIFIED {describe(event)}", flush=True)
            self.send_response(204)
            self.end_headers()
            return
        print(f"NOT VERIFIED webhook-id {self.headers.get('webhook-id')}: {body[:200]}", flush=True)
        self.send_error(400)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--service", default="http://127.0.0.1:5000")
    parser.add_argument("--api-key", default="dev-key")
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}/callbacks"
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    Handler.secrets = [subscribe(args.service, args.api_key, url)]
    if os.environ.get("DIALER_CALLBACK_SIGNING_SECRET"):
        Handler.secrets.append(os.environ["DIALER_CALLBACK_SIGNING_SECRET"])
    print(f"callback receiver on {url}: subscribed to every event; send a message to see them", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
