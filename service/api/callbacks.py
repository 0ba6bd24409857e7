"""/api/v1/callback-endpoints, /api/v1/callback-deliveries and a message's callbacks."""
from flask_smorest import Blueprint

from service.api.auth import guard_api_request
from service.api.messages import MESSAGE_ID
from service.dialer.callbacks import deliveries, endpoints
from service.schemas.callbacks import (
    DeliveryListSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    EndpointCreateSchema,
    EndpointListSchema,
    EndpointSchema,
    EndpointUpdateSchema,
    EndpointWithSecretSchema,
    ReplayResultSchema,
    ReplaySchema,
)
from service.schemas.messages import PageQuerySchema

ID_RANGE = f"min=1, max={2**63 - 1}"
ENDPOINT_ID = f"int({ID_RANGE}):endpoint_id"
DELIVERY_ID = f"int({ID_RANGE}):delivery_id"

blp = Blueprint("callbacks", __name__, url_prefix="/api/v1",
                description="Signed status callbacks to client systems.")
blp.before_request(guard_api_request)


@blp.route("/callback-endpoints", methods=["POST"])
@blp.arguments(EndpointCreateSchema)
@blp.response(201, EndpointWithSecretSchema)
def create_endpoint(data):
    """Subscribe a URL to status callbacks

    The answer carries the endpoint's `whsec_` secret, shown this once.
    """
    return endpoints.create_endpoint(**data)


@blp.route("/callback-endpoints", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query", unknown="raise")
@blp.response(200, EndpointListSchema)
def read_endpoints(query):
    """List callback endpoints"""
    return endpoints.list_endpoints(query["cursor"], query["limit"])


@blp.route(f"/callback-endpoints/<{ENDPOINT_ID}>", methods=["GET"])
@blp.response(200, EndpointSchema)
def read_endpoint(endpoint_id):
    """Read one callback endpoint"""
    return endpoints.get_endpoint(endpoint_id)


@blp.route(f"/callback-endpoints/<{ENDPOINT_ID}>", methods=["PATCH"])
@blp.arguments(EndpointUpdateSchema)
@blp.response(200, EndpointSchema)
def update_endpoint(data, endpoint_id):
    """Change an endpoint's fields (enabling it again clears why it was disabled)"""
    return endpoints.update_endpoint(endpoint_id, **data)


@blp.route(f"/callback-endpoints/<{ENDPOINT_ID}>", methods=["DELETE"])
@blp.response(204)
def delete_endpoint(endpoint_id):
    """Delete an endpoint and its deliveries"""
    endpoints.delete_endpoint(endpoint_id)


@blp.route(f"/callback-endpoints/<{ENDPOINT_ID}>/rotate-secret", methods=["POST"])
@blp.response(200, EndpointWithSecretSchema)
def rotate_secret(endpoint_id):
    """Issue a new secret (shown this once); the old one also signs during the overlap"""
    return endpoints.rotate_secret(endpoint_id)


@blp.route(f"/callback-endpoints/<{ENDPOINT_ID}>/deliveries", methods=["GET"])
@blp.arguments(DeliveryQuerySchema, location="query", unknown="raise")
@blp.response(200, DeliveryListSchema)
def read_endpoint_deliveries(query, endpoint_id):
    """The endpoint's deliveries and their attempts, oldest first (`status=failed`: dead letters)"""
    return deliveries.list_endpoint_deliveries(endpoint_id, query.get("status"), query["cursor"], query["limit"])


@blp.route(f"/callback-endpoints/<{ENDPOINT_ID}>/replay", methods=["POST"])
@blp.arguments(ReplaySchema)
@blp.response(202, ReplayResultSchema)
def replay_endpoint(data, endpoint_id):
    """Send every delivery created since `since` again, under the same webhook-ids"""
    return {"queued": deliveries.replay_endpoint(endpoint_id, data["since"])}


@blp.route(f"/callback-deliveries/<{DELIVERY_ID}>/retry", methods=["POST"])
@blp.response(202, DeliverySchema)
def retry_delivery(delivery_id):
    """Send one delivery again now, under the same webhook-id"""
    return deliveries.retry_delivery(delivery_id)


@blp.route(f"/messages/<{MESSAGE_ID}>/callbacks", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query", unknown="raise")
@blp.response(200, DeliveryListSchema)
def read_message_callbacks(query, message_id):
    """The message's callbacks to every target, and their attempts, oldest first"""
    return deliveries.list_message_callbacks(message_id, query["cursor"], query["limit"])
