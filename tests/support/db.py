from service.extensions import db
from service.infrastructure.transactions import end_transaction
from service.models import DialerMessage, DialerMessageRelatedObject, IdempotencyKey


def count_rows(model=DialerMessage) -> int:
    count = db.session.query(model).count()
    end_transaction()
    return count


def stored_counts() -> dict:
    return {
        "messages": count_rows(DialerMessage),
        "related": count_rows(DialerMessageRelatedObject),
        "idempotency_keys": count_rows(IdempotencyKey),
    }
