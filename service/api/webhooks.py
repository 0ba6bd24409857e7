"""POST /webhooks/<provider>: call results a provider pushes (Daktela's Events module at /webhooks/daktela)."""
import json
import logging

from flask import Blueprint, request

from service.api.auth import matches_any
from service.dialer.tracking.webhooks import receive_webhook, webhook_secrets
from service.errors import AuthenticationError, ServiceError

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
logger = logging.getLogger(__name__)


class MalformedWebhookError(ServiceError):
    status_code = 400
    default_message = "The webhook body must be a JSON object or form fields."


def _check_secret(provider: str) -> None:
    """Fail closed: without configured secrets (DAKTELA_WEBHOOK_SECRETS) every webhook is refused."""
    presented = request.headers.get("X-Webhook-Secret") or request.args.get("token") or ""
    if not matches_any(presented, webhook_secrets(provider)):
        # Worth an operator's look (a Daktela event with an old secret, or a
        # stranger); never the presented value, which may be a near-miss secret.
        logger.warning("webhook refused: %s secret, from %s",
                       "a wrong" if presented else "no", request.remote_addr)
        raise AuthenticationError("A valid webhook secret is required (X-Webhook-Secret or ?token=).")


def _body() -> dict:
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.to_dict()
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise MalformedWebhookError() from None
    if not isinstance(body, dict):
        raise MalformedWebhookError()
    return body


@blp.post("/<provider>")
def provider_webhook(provider: str):
    _check_secret(provider)
    result = receive_webhook(provider, _body())
    return result.body(), result.status_code
