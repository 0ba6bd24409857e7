"""Probes and the OpenAPI description."""
from openapi_spec_validator import validate

from service.api import messages, templates

EXPECTED_OPERATIONS = {
    ("/api/v1/messages", "post"), ("/api/v1/messages", "get"), ("/api/v1/messages/bulk", "post"),
    ("/api/v1/messages/{message_id}", "get"), ("/api/v1/messages/{message_id}/events", "get"),
    ("/api/v1/messages/{message_id}/cancel", "post"), ("/api/v1/messages/cancel", "post"),
    ("/api/v1/templates", "post"),
    ("/api/v1/templates", "get"), ("/api/v1/templates/{slug}", "get"),
    ("/api/v1/templates/{slug}", "put"), ("/api/v1/templates/{slug}", "delete"),
    ("/api/v1/templates/{slug}/preview", "post"), ("/api/v1/templates/{slug}/send", "post"),
    ("/healthz", "get"), ("/readyz", "get"), ("/webhooks/daktela", "post"), ("/webhooks/{provider}", "post"),
    ("/api/v1/callback-endpoints", "post"), ("/api/v1/callback-endpoints", "get"),
    ("/api/v1/callback-endpoints/{endpoint_id}", "get"), ("/api/v1/callback-endpoints/{endpoint_id}", "patch"),
    ("/api/v1/callback-endpoints/{endpoint_id}", "delete"),
    ("/api/v1/callback-endpoints/{endpoint_id}/rotate-secret", "post"),
    ("/api/v1/callback-endpoints/{endpoint_id}/deliveries", "get"),
    ("/api/v1/callback-endpoints/{endpoint_id}/replay", "post"),
    ("/api/v1/callback-deliveries/{delivery_id}/retry", "post"), ("/api/v1/messages/{message_id}/callbacks", "get"),
}


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}


def test_readyz_is_503_when_the_database_is_unreachable(make_app, tmp_path):
    app = make_app(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {"code": 503, "status": "Service Unavailable",
                              "message": "The database is not reachable."}


def test_openapi_is_valid_and_covers_every_route(client, app):
    spec = client.get("/api/openapi.json").json
    validate(spec)
    operations = {
        (path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"
    }
    assert operations == EXPECTED_OPERATIONS
    api_rules = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")}
    assert len(api_rules) == len({path for path, _ in EXPECTED_OPERATIONS if path.startswith("/api/v1")})
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]


def test_docs_ui_is_served_with_its_own_assets(client):
    import re

    response = client.get("/api/docs")
    assert response.status_code == 200 and b"swagger-ui" in response.data
    assets = re.findall(r'(?:src|href)="([^"]+)"', response.get_data(as_text=True))
    assert len(assets) == 3 and all(asset.startswith("/api/docs/assets/") for asset in assets), assets
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200 and len(served.data) > 10_000, asset
        served.close()
    assert client.get("/api/docs/assets/index.html").status_code == 404
    assert client.get("/api/docs/assets/..%2Fconfig.py").status_code == 404


def test_every_api_blueprint_requires_the_api_key():
    from service.api.auth import guard_api_request

    for blueprint in (messages.blp, templates.blp):
        assert guard_api_request in blueprint.before_request_funcs[None]
