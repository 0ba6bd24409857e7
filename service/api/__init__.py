"""HTTP blueprints: load the request, call one service function, dump the result."""
from flask import Flask

from service.api import callbacks, docs_assets, health, messages, metrics, templates, webhooks
from service.extensions import api


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(docs_assets.blp)
    app.register_blueprint(metrics.blp)
    api.register_blueprint(health.blp)
    api.register_blueprint(webhooks.blp)
    api.register_blueprint(messages.blp)
    api.register_blueprint(templates.blp)
    api.register_blueprint(callbacks.blp)
