"""A backend written only against backends/base.py is tracked by the same core as Daktela:
its webhook served over HTTP at /webhooks/<its name>, hints fetched, its feed polled."""
import pytest
import requests

from tests.support import tracked_backend
from tests.support.tracked_backend import PROVIDER, SECRET


@pytest.fixture
def acme(make_app):
    PROVIDER.__init__()
    return make_app(sender_backend="tests.support.tracked_backend.AcmeBackend")


def states(base_url, auth, ids):
    return [requests.get(f"{base_url}/api/v1/messages/{message_id}", headers=auth, timeout=5).json()["state"]
            for message_id in ids]


def test_a_custom_backend_is_tracked_by_webhook_hint_and_poller_end_to_end(acme, live_server, auth):
    base_url = live_server(acme)
    ids = [requests.post(f"{base_url}/api/v1/messages", headers=auth, timeout=5,
                         json={"recipient": f"+42077712345{n}", "content": "Hi"}).json()["id"] for n in range(3)]
    assert states(base_url, auth, ids) == ["READY"] * 3
    hook = f"{base_url}/webhooks/acme"

    # A webhook with the outcome is applied at once.
    PROVIDER.tick()
    answer = requests.post(hook, headers={"X-Webhook-Secret": SECRET}, timeout=5, json={
        "call": f"acme-{ids[0]}", "status": "completed", "updated": PROVIDER.now.isoformat()})
    assert answer.status_code == 200 and answer.json()["result"] == "applied"
    # A hint makes the core fetch the call from Acme.
    PROVIDER.set_status(f"acme-{ids[1]}", "declined")
    hint = requests.post(hook, headers={"X-Webhook-Secret": SECRET}, json={"call": f"acme-{ids[1]}"}, timeout=5)
    assert hint.json() == {"result": "fetched", "message_id": ids[1], "state": "DECLINED"}
    # The poller follows Acme's feed: its first run takes Acme's clock, then changes arrive.
    cli = acme.test_cli_runner()
    assert cli.invoke(args=["dialer", "check-status"]).exit_code == 0
    PROVIDER.set_status(f"acme-{ids[2]}", "ringing")
    PROVIDER.set_status(f"acme-{ids[2]}", "no-answer")
    result = cli.invoke(args=["dialer", "check-status"])
    assert result.exit_code == 0 and "1 changes applied" in result.output, result.output
    assert states(base_url, auth, ids) == ["ANSWERED_COMPLETE", "DECLINED", "UNANSWERED"]
    events = requests.get(f"{base_url}/api/v1/messages/{ids[2]}/events", headers=auth, timeout=5).json()["items"]
    assert [(e["source"], e["new_state"]) for e in events][-1] == ("poll", "UNANSWERED")


def test_a_custom_backends_webhook_needs_its_own_secret_and_other_providers_paths_refuse(acme, live_server):
    base_url = live_server(acme)
    body = {"call": "acme-1", "status": "completed", "updated": "2030-01-01T10:00:00+00:00"}
    assert requests.post(f"{base_url}/webhooks/acme", json=body, timeout=5).status_code == 401
    wrong = requests.post(f"{base_url}/webhooks/acme", json=body, headers={"X-Webhook-Secret": "x"}, timeout=5)
    assert wrong.status_code == 401
    daktela = requests.post(f"{base_url}/webhooks/daktela", json={"name": "x"}, timeout=5,
                            headers={"X-Webhook-Secret": SECRET})
    assert daktela.status_code == 401  # the configured backend does not serve Daktela's webhook
    malformed = requests.post(f"{base_url}/webhooks/acme", json={"status": "x"}, timeout=5,
                              headers={"X-Webhook-Secret": SECRET})
    assert malformed.status_code == 422 and malformed.json()["errors"] == {"call": ["Missing."]}


def test_while_the_custom_provider_is_unreachable_a_hint_is_queued_for_the_poller(acme, live_server, auth):
    base_url = live_server(acme)
    message_id = requests.post(f"{base_url}/api/v1/messages", headers=auth, timeout=5,
                               json={"recipient": "+420777123456", "content": "Hi"}).json()["id"]
    PROVIDER.reachable = False
    hint = requests.post(f"{base_url}/webhooks/acme", headers={"X-Webhook-Secret": SECRET}, timeout=5,
                         json={"call": f"acme-{message_id}"})
    assert hint.status_code == 202 and hint.json()["result"] == "queued for a status check"
    assert tracked_backend.PROVIDER.requests == 1



class NaiveAcme(tracked_backend.AcmeBackend):
    """Acme breaking the contract for declined calls: their times come without a zone."""

    def observation_of(self, record, source):
        if record.status == "declined":
            record = tracked_backend.AcmeCall(record.name, record.status, record.updated.replace(tzinfo=None))
        return super().observation_of(record, source)


class KeyedNaiveAcme(NaiveAcme):
    """The same, with the optional shortcut: the ordering key given without an observation."""

    def ordering_key_of(self, record):
        naive = record.status == "declined"
        return (record.updated.replace(tzinfo=None) if naive else record.updated), record.status


@pytest.mark.parametrize("backend", ["NaiveAcme", "KeyedNaiveAcme"])
def test_a_record_with_a_naive_time_fails_alone_and_the_rest_of_its_page_is_applied(make_app, auth, backend):
    PROVIDER.__init__()
    app = make_app(sender_backend=f"{__name__}.{backend}")
    client, cli = app.test_client(), app.test_cli_runner()
    ids = [client.post("/api/v1/messages", headers=auth, json={"recipient": f"+42077712345{n}", "content": "Hi"}
                       ).json["id"] for n in range(2)]
    assert cli.invoke(args=["dialer", "check-status"]).exit_code == 0
    PROVIDER.set_status(f"acme-{ids[0]}", "completed")
    PROVIDER.set_status(f"acme-{ids[1]}", "declined")
    result = cli.invoke(args=["dialer", "check-status"])
    assert result.exit_code == 0 and "1 changes applied" in result.output, result.output
    first, second = (client.get(f"/api/v1/messages/{i}", headers=auth).json for i in ids)
    assert first["state"] == "ANSWERED_COMPLETE" and second["state"] == "READY"
    assert second["number_of_status_check_attempts"] == 1, second


def test_a_backend_follows_its_own_watermark_never_another_providers(acme, auth):
    """A service moved from Daktela to Acme: Daktela's watermark (here far ahead of Acme's clock)
    is not Acme's, so Acme's first run follows its feed from the oldest pending sending."""
    from service.extensions import db
    from service.models.message import DialerPollState

    client, cli = acme.test_client(), acme.test_cli_runner()
    message_id = client.post("/api/v1/messages", headers=auth, json={"recipient": "+420777123450", "content": "Hi"}
                             ).json["id"]
    with acme.app_context():
        db.session.add(DialerPollState(name="daktela_watermark", value="2099-01-01 00:00:00"))
        db.session.commit()
    PROVIDER.set_status(f"acme-{message_id}", "completed")
    result = cli.invoke(args=["dialer", "check-status"])
    assert result.exit_code == 0 and "1 changes applied" in result.output, result.output
    assert client.get(f"/api/v1/messages/{message_id}", headers=auth).json["state"] == "ANSWERED_COMPLETE"
    with acme.app_context():
        kept = {row.name: row.value for row in db.session.scalars(db.select(DialerPollState))}
    assert kept["daktela_watermark"] == "2099-01-01 00:00:00" and kept["acme_watermark"] == PROVIDER.now.isoformat()
