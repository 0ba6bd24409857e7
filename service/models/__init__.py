"""Tables and pure state helpers. Nothing here commits or calls HTTP."""
from service.models.idempotency import IdempotencyKey
from service.models.message import DialerMessage, DialerMessageRelatedObject
from service.models.states import DialerMessageState
from service.models.template import AbstractDialerTemplate, DialerTemplate

__all__ = [
    "AbstractDialerTemplate",
    "DialerMessage",
    "DialerMessageRelatedObject",
    "DialerMessageState",
    "DialerTemplate",
    "IdempotencyKey",
]
