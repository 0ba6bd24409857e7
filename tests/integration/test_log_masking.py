"""Secrets sent in a query string (the webhook's ?token=, an API key put in the
URL by mistake) never reach a log line the service writes."""
import logging
import threading

import requests
from werkzeug.serving import make_server

from service.log_masking import mask_query_secrets
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.integration.test_web_process import web_process  # noqa: F401 (a fixture)

WRONG_SECRET = "near-miss-webhook-secret-42"


def test_secret_query_values_are_masked_and_others_kept():
    line = "POST /webhooks/daktela?name=dialer_1&TOKEN=abc-123&api_key=k.e.y&x=1 HTTP/1.1"
    assert mask_query_secrets(line) == "POST /webhooks/daktela?name=dialer_1&TOKEN=***&api_key=***&x=1 HTTP/1.1"
    assert mask_query_secrets("GET /api/v1/messages?tag=token HTTP/1.1") == "GET /api/v1/messages?tag=token HTTP/1.1"


def test_the_development_servers_request_log_masks_query_secrets(daktela_app, caplog):
    # `flask run` (make run's web process) logs every request line through werkzeug.
    app = daktela_app(webhook_secrets=(WEBHOOK_SECRET,))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    caplog.set_level(logging.INFO)
    try:
        accepted = requests.post(f"{base_url}/webhooks/daktela?token={WEBHOOK_SECRET}", json={"name": "x_1"}, timeout=5)
        refused = requests.post(f"{base_url}/webhooks/daktela?token={WRONG_SECRET}", json={"name": "x_1"}, timeout=5)
        misplaced_key = requests.get(f"{base_url}/api/v1/messages?api_key={API_KEY}", timeout=5)
    finally:
        server.shutdown()
        thread.join(5)
    assert (accepted.status_code, refused.status_code, misplaced_key.status_code) == (202, 401, 401)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("/webhooks/daktela?token=***") == 2 and "/api/v1/messages?api_key=***" in logged, logged
    for secret in (WEBHOOK_SECRET, WRONG_SECRET, API_KEY):
        assert secret not in logged and secret not in caplog.text
