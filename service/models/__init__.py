"""Tables and pure state helpers. Nothing here commits or calls HTTP."""
from service.models.callback import CallbackAttempt, CallbackDelivery, CallbackEndpoint
from service.models.idempotency import IdempotencyKey
from service.models.message import (
    DialerMessage,
    DialerMessageEvent,
    DialerMessageRelatedObject,
    DialerPollState,
)
from service.models.operator import Operator, OperatorRole
from service.models.states import DialerMessageState
from service.models.template import AbstractDialerTemplate, DialerTemplate

__all__ = [
    "AbstractDialerTemplate",
    "CallbackAttempt",
    "CallbackDelivery",
    "CallbackEndpoint",
    "DialerMessage",
    "DialerMessageEvent",
    "DialerPollState",
    "DialerMessageRelatedObject",
    "DialerMessageState",
    "DialerTemplate",
    "IdempotencyKey",
    "Operator",
    "OperatorRole",
]
