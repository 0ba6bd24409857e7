"""GET /metrics: Prometheus metrics, for a bearer METRICS_TOKEN or anyone with METRICS_PUBLIC=true."""
from flask import Blueprint, Response, request

from service.api.auth import matches_any
from service.dialer.backlog import read_backlog
from service.dialer.runtime import dialer_config
from service.errors import AuthenticationError
from service.metrics import backlog_families, exposition

blp = Blueprint("metrics", __name__)


def _check_access() -> None:
    config = dialer_config()
    if config.metrics_public:
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    tokens = (config.metrics_token,) if config.metrics_token else ()
    if scheme.lower() != "bearer" or not matches_any(presented.strip(), tokens):
        raise AuthenticationError("A valid metrics token is required: send 'Authorization: Bearer <METRICS_TOKEN>'.")


@blp.route("/metrics", methods=["GET"])
def scrape():
    _check_access()
    body, content_type = exposition(backlog_families(read_backlog()))
    return Response(body, content_type=content_type)
