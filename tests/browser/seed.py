"""Messages and templates for the console's pages: outcomes reached through the state machine."""
from __future__ import annotations

from datetime import timedelta

from service.dialer.templates import create_template
from service.extensions import db
from service.models.state_machine import Observation, apply_observation
from service.models.states import DialerMessageState as State
from tests.support.factories import sent_message

# (recipient, hours before now, outcome or None for still out, tag)
MESSAGES = [
    ("+420777000001", 1, State.ANSWERED_COMPLETE, "reminder"),
    ("+420777000002", 2, State.ANSWERED_PARTIAL, "reminder"),
    ("+420777000003", 3, State.DECLINED, "survey"),
    ("+420777000004", 5, State.UNANSWERED, "survey"),
    ("+420777000005", 30, State.ANSWERED_COMPLETE, "reminder"),
    ("+420777000006", 4, None, "reminder"),
]


def seed_console_data(app, now) -> dict[str, int]:
    """Store MESSAGES (sent `hours` before `now`) and one template; their ids by recipient."""
    ids = {}
    with app.app_context():
        for recipient, hours, outcome, tag in MESSAGES:
            moment = now - timedelta(hours=hours)
            message = sent_message(recipient, f"Your appointment is tomorrow ({tag}).", tag=tag,
                                   created_at=moment, sent_at=moment, template_slug="appointment")
            if outcome is not None:
                event = apply_observation(message, Observation(source="webhook", state=outcome, final=True,
                                                       edited=moment + timedelta(minutes=2),
                                                       payload={"status": outcome.value}))
                event.created_at = moment + timedelta(minutes=2)  # on the test's clock, not the wall clock
            db.session.commit()
            ids[recipient] = message.id
        create_template("appointment", "Hello {{ name }}, your appointment is at {{ time }}.")
    return ids
