"""POST /webhooks/<provider>: call results a provider pushes (Daktela's Events module at /webhooks/daktela)."""
import json
import logging

from flask import request
from flask_smorest import Blueprint

from service import metrics
from service.api.auth import matches_any
from service.dialer.tracking.webhooks import receive_webhook, webhook_secrets
from service.errors import AuthenticationError, ServiceError
from service.schemas.probes import DaktelaWebhookSchema, WebhookResultSchema

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks",
                description="Call results pushed by Daktela; authenticated by DAKTELA_WEBHOOK_SECRETS.")
WEBHOOK_BODY = {"required": True, "content": {
    "application/json": {"schema": DaktelaWebhookSchema},
    "application/x-www-form-urlencoded": {"schema": DaktelaWebhookSchema},
}}
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


def _receive(provider: str):
    try:
        _check_secret(provider)
        result = receive_webhook(provider, _body())
    except ServiceError:  # no secret, an unreadable body or values: answered 4xx
        metrics.webhook_received("refused")
        raise
    except Exception:  # the database unavailable (503), or a bug (500): Daktela retries
        metrics.webhook_received("failed")
        raise
    metrics.webhook_received(result.result)
    return result.body(), result.status_code


def _documented(view):
    view = blp.doc(security=[{"webhookSecret": []}], requestBody=WEBHOOK_BODY)(view)
    view = blp.alt_response(200, schema=WebhookResultSchema, description="Applied, ignored or fetched.",
                            success=True)(view)
    view = blp.alt_response(202, schema=WebhookResultSchema, success=True,
                            description="Queued for a status check, or not our record.")(view)
    view = blp.alt_response(400, schema="Error", description="The body is not a JSON object or form fields.")(view)
    view = blp.alt_response(401, schema="Error", description="No or a wrong secret.")(view)
    view = blp.alt_response(422, schema="Error", description="No record name, or an unreadable action or time.")(view)
    return blp.alt_response(503, schema="Error",
                            description="The database is unavailable; the provider should retry.")(view)


@blp.route("/daktela", methods=["POST"])
@_documented
def daktela_webhook():
    """Receive a call result from Daktela's Events module

    Send the secret in `X-Webhook-Secret`. `?token=<secret>` is also accepted,
    for Events set-ups that cannot send headers, but URLs reach logs outside
    the service: prefer the header.
    """
    return _receive("daktela")


@blp.route("/<provider>", methods=["POST"])
@_documented
def provider_webhook(provider: str):
    """Receive a call result from a custom backend's provider

    Served when the configured backend's `webhook_name` is `provider`; the
    backend's `parse_webhook` reads the body, and its `webhook_secrets` are the
    secrets accepted. Any other provider name is refused (401).
    """
    return _receive(provider)
