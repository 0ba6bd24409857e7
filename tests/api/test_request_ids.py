"""Every response carries X-Request-ID, and the log lines of its request carry the same id."""
import logging
import re

from tests.conftest import WEBHOOK_SECRET


def test_a_request_id_is_made_up_or_taken_from_the_caller(client, auth):
    made_up = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made_up)
    assert client.get("/healthz").headers["X-Request-ID"] != made_up
    given = "3f6c1a2e-7b1d-4c5e-9a0b-1d2e3f4a5b6c"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    for insane in ("a" * 201, "<script>", "two words", ""):
        echoed = client.get("/healthz", headers={"X-Request-ID": insane}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), insane
    refused = client.get("/api/v1/messages", headers={"X-Request-ID": "req-42"})
    assert refused.status_code == 401 and refused.headers["X-Request-ID"] == "req-42"


def test_log_lines_of_a_request_carry_its_id(daktela_app, caplog):
    caplog.set_level(logging.INFO)
    app = daktela_app(webhook_secrets=(WEBHOOK_SECRET,))
    response = app.test_client().post("/webhooks/daktela", headers={"X-Webhook-Secret": "wrong",
                                                                     "X-Request-ID": "req-refused-1"},
                                      json={"name": "test_1"})
    assert response.status_code == 401
    refused = [record for record in caplog.records if "webhook refused" in record.getMessage()]
    assert [record.request_id for record in refused] == ["req-refused-1"]
    outside = logging.getLogger("tests").makeRecord("tests", logging.INFO, __file__, 1, "x", (), None)
    assert outside.request_id == "-"  # no request: the format still has a value
