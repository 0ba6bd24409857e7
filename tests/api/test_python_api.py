"""The seed's Python API: send, send_template, template.send, backends."""
import logging

import pytest

from config import BatchConfig
from service.backends import DialerBackend, DummyDialerBackend
from service.dialer import send, send_template
from service.dialer.templates import TemplateNotFoundError
from service.errors import BackendNotSupportedError, InvalidInputError
from service.extensions import db
from service.models import DialerMessage, DialerMessageState, DialerTemplate
from tests.support.backends import RecordingBackend
from tests.support.db import count_rows

RECIPIENT = "+420777123456"


def test_send_returns_the_message_with_kwargs_in_extra_data(app_context):
    message = send(RECIPIENT, "Hello", tag="t", order_id=7, note="x")
    assert isinstance(message, DialerMessage)
    assert message.extra_data == {"order_id": 7, "note": "x"} and message.tag == "t"
    stored = db.session.get(DialerMessage, message.id)
    assert stored.state == DialerMessageState.DEBUG and stored.is_final_state and stored.sent_at
    assert stored.failed is False


def test_send_rejects_bad_values_before_storing(app_context):
    with pytest.raises(InvalidInputError) as excinfo:
        send("12", "", priority=9, is_autodialer="yes", blob=object())
    assert set(excinfo.value.errors) == {"recipient", "content", "priority", "is_autodialer", "extra_data"}
    for priority in (1.0, "1", True, None):
        with pytest.raises(InvalidInputError) as excinfo:
            send(RECIPIENT, "Hi", priority=priority)
        assert set(excinfo.value.errors) == {"priority"}
    assert count_rows() == 0


def test_related_objects_from_model_instances_and_dicts(app_context):
    template = DialerTemplate(slug="s", body="b")
    db.session.add(template)
    db.session.commit()
    message = send(RECIPIENT, "Hi", related_objects=[template, {"content_type": "crm.lead", "object_id": "L-1"}])
    related = [(r.content_type, r.object_id, r.object_id_int) for r in message.related_objects]
    assert related == [("dialer_template", str(template.id), template.id), ("crm.lead", "L-1", None)]


def test_unsaved_or_unmapped_related_objects_are_rejected(app_context):
    with pytest.raises(InvalidInputError, match="invalid"):
        send(RECIPIENT, "Hi", related_objects=[DialerTemplate(slug="s", body="b")])
    with pytest.raises(InvalidInputError):
        send(RECIPIENT, "Hi", related_objects=[object()])
    assert count_rows() == 0


def test_send_template_renders_and_returns_none_when_refused(app_context):
    template = DialerTemplate(slug="greet", body="Hi {{ name }}", is_active=True)
    db.session.add(template)
    db.session.commit()
    message = send_template(RECIPIENT, "greet", {"name": "Jana"}, tag="g")
    assert message.content == "Hi Jana" and message.template_slug == "greet" and message.tag == "g"
    template.is_active = False
    db.session.commit()
    assert send_template(RECIPIENT, "greet", {"name": "Jana"}) is None
    assert template.send(RECIPIENT, {"name": "Jana"}) is None
    assert count_rows() == 1
    with pytest.raises(TemplateNotFoundError):
        send_template(RECIPIENT, "unknown", {})


def test_custom_backend_by_dotted_path_runs_with_no_connection_held(make_app):
    RecordingBackend.calls.clear()
    app = make_app(sender_backend="tests.support.backends.RecordingBackend")
    with app.app_context():
        message = send(RECIPIENT, "Hi")
        assert message.backend == "tests.support.backends.RecordingBackend"
        assert RecordingBackend.calls == [
            {"method": "publish_message", "message_id": message.id, "connections_in_use": 0}
        ]
        db.session.expire_all()
        stored = db.session.get(DialerMessage, message.id)
        assert stored.state == DialerMessageState.READY
        assert stored.extra_sender_data == {"record": f"test-{message.id}"}


def test_a_backend_that_raises_marks_the_message_error_without_leaking(make_app, auth, caplog):
    app = make_app(sender_backend="tests.support.backends.ExplodingBackend")
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().post(
            "/api/v1/messages", headers=auth, json={"recipient": RECIPIENT, "content": "Hi"}
        )
    assert response.status_code == 201
    assert response.json["state"] == "ERROR_RETRY" and response.json["is_final_state"] is False
    assert response.json["error"] == "The dialer backend failed (RuntimeError)."
    assert "SECRET-TOKEN-123" not in response.get_data(as_text=True)
    assert "SECRET-TOKEN-123" not in caplog.text and "RuntimeError" in caplog.text


def test_a_backend_without_publish_message_fails_clearly(make_app):
    app = make_app(sender_backend="tests.support.backends.IncompleteBackend",
                   batch=BatchConfig(max_number_of_send_attempts=1))
    with app.app_context():
        message = send(RECIPIENT, "Hi")
    assert message.state == DialerMessageState.ERROR and message.failed and message.is_final_state
    assert message.error == "Gave up after 1 attempts: The dialer backend failed (NotImplementedError)."


def test_backend_defaults():
    assert DummyDialerBackend.dotted_path() == "service.backends.dummy.DummyDialerBackend"
    with pytest.raises(BackendNotSupportedError, match="cannot check message states"):
        DummyDialerBackend().bulk_check_dialer_status()
    with pytest.raises(NotImplementedError):
        DialerBackend().publish_message(None)
