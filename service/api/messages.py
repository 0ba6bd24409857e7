"""/api/v1/messages: send and read dialer messages."""
from flask_smorest import Blueprint

from service.api.auth import guard_api_request
from service.api.idempotency import idempotent
from service.dialer.messages import MessageFilter, get_message, list_message_events, list_messages
from service.dialer.sending import send_bulk, send_message
from service.dialer.timing.cancel import cancel_matching, cancel_message
from service.schemas.messages import (
    BulkMessageCreateSchema,
    BulkMessageListSchema,
    MessageCancelFilterSchema,
    MessageCancelReportSchema,
    MessageCreateSchema,
    MessageEventListSchema,
    MessageListSchema,
    MessageQuerySchema,
    MessageSchema,
    PageQuerySchema,
)

# A message id in a path: a number no bigint holds names no message (404),
# instead of overflowing the database query.
MESSAGE_ID = f"int(min=1, max={2**63 - 1}):message_id"

blp = Blueprint(
    "messages", __name__, url_prefix="/api/v1/messages", description="Send and read dialer messages."
)
blp.before_request(guard_api_request)


@blp.route("", methods=["POST"])
@idempotent
@blp.arguments(MessageCreateSchema)
@blp.response(201, MessageSchema)
def create_message(data):
    """Send one dialer message

    Answers with the stored message; its `state` shows what the backend did.
    Send `Idempotency-Key` to make retries safe.
    """
    return send_message(data.pop("recipient"), data.pop("content"), **data)


@blp.route("/bulk", methods=["POST"])
@idempotent
@blp.arguments(BulkMessageCreateSchema)
@blp.response(201, BulkMessageListSchema)
def create_messages_in_bulk(data):
    """Send the same content to several recipients

    All messages are stored or none (any invalid recipient rejects the batch).
    """
    return {"items": send_bulk(data.pop("recipients"), data.pop("content"), **data)}


@blp.route("", methods=["GET"])
@blp.arguments(MessageQuerySchema, location="query", unknown="raise")
@blp.response(200, MessageListSchema)
def read_messages(query):
    """List dialer messages, newest first

    Pass `next_cursor` back as `cursor` for the next page.
    """
    cursor, limit = query.pop("cursor"), query.pop("limit")
    return list_messages(MessageFilter(**query), cursor, limit)


@blp.route(f"/<{MESSAGE_ID}>", methods=["GET"])
@blp.response(200, MessageSchema)
def read_message(message_id):
    """Read one dialer message"""
    return get_message(message_id)


@blp.route(f"/<{MESSAGE_ID}>/events", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query", unknown="raise")
@blp.response(200, MessageEventListSchema)
def read_message_events(query, message_id):
    """A message's history: every observation of its call, applied or ignored, oldest first"""
    return list_message_events(message_id, query["cursor"], query["limit"])


@blp.route(f"/<{MESSAGE_ID}>/cancel", methods=["POST"])
@blp.response(200, MessageSchema)
@blp.alt_response(409, description="A call is in progress, or the message is final otherwise")
def cancel_one_message(message_id):
    """Cancel a message that has not been dialled yet

    CANCELLED at once when it was not published; when it was, after the provider's record is
    removed (`pending_take_back` shows a removal the worker still retries). Repeating is harmless.
    """
    message, _ = cancel_message(message_id, channel="api")
    return message


@blp.route("/cancel", methods=["POST"])
@blp.arguments(MessageCancelFilterSchema)
@blp.response(200, MessageCancelReportSchema)
def cancel_messages(data):
    """Cancel every cancellable message matching a filter

    Give `tag`, `template_slug`, or `content_type` and `object_id`. At most 1,000 messages per
    request: repeat while `more` is true.
    """
    return cancel_matching(MessageFilter(**data), channel="api").as_dict()
