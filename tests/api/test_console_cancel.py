"""Cancel through the console over the Flask test client: refusals answered with a page, never a 500;
the button only where a cancel can take the message back; Czech texts."""
import re

import pytest

from service.dialer.operators import create_operator
from service.models import DialerMessageEvent
from service.models.states import DialerMessageState as State
from tests.support.factories import sent_message

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
BUTTON = "Cancel the call"


def sign_in(client, email):
    token = TOKEN.search(client.get("/console/sign-in").text).group(1)
    client.post("/console/sign-in", data={"csrf_token": token, "email": email, "password": PASSWORD})
    return TOKEN.search(client.get("/console/test-call").text).group(1)


@pytest.fixture
def operator_client(app, client):
    with app.app_context():
        create_operator("ops@example.com", PASSWORD, "operator")
    return client, sign_in(client, "ops@example.com")


def test_a_final_message_answers_with_a_clear_message_and_records_nothing(app, operator_client):
    client, token = operator_client
    with app.app_context():
        message_id = sent_message(state=State.DECLINED, is_final_state=True).id
    assert BUTTON not in client.get(f"/console/messages/{message_id}").text
    response = client.post(f"/console/messages/{message_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert f"Message {message_id} cannot be cancelled any more: it is Declined." in page
    with app.app_context():
        assert DialerMessageEvent.query.filter_by(source="cancel").count() == 0


def test_an_unknown_message_is_not_found_and_a_post_without_token_is_refused(app, operator_client):
    client, token = operator_client
    assert client.post("/console/messages/999999/cancel", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        message_id = sent_message(state=State.WAITING, sent_at=None).id
    assert client.post(f"/console/messages/{message_id}/cancel", data={}).status_code == 400
    assert client.post("/console/messages/99999999999999999999/cancel", data={"csrf_token": token}).status_code == 404


def test_the_button_shows_only_where_the_backend_can_take_the_message_back(app, operator_client):
    client, _ = operator_client
    with app.app_context():
        waiting = sent_message(state=State.WAITING, sent_at=None).id
        # The dummy backend cannot remove records: a published message cannot be taken back.
        published = sent_message(state=State.READY).id
    assert BUTTON in client.get(f"/console/messages/{waiting}").text
    assert BUTTON not in client.get(f"/console/messages/{published}").text


def test_cancel_speaks_czech(app, operator_client):
    client, token = operator_client
    with app.app_context():
        message_id = sent_message(state=State.SCHEDULED, sent_at=None).id
    czech = {"Accept-Language": "cs"}
    assert "Zrušit hovor" in client.get(f"/console/messages/{message_id}", headers=czech).text
    response = client.post(f"/console/messages/{message_id}/cancel", data={"csrf_token": token}, headers=czech)
    page = client.get(response.headers["Location"], headers=czech).text
    assert f"Zpráva {message_id} zrušena." in page and "kanál: console" in page
