"""Swagger UI's files for /api/docs, served from the pinned swagger-ui-bundle package:
the docs page works without reaching a CDN (offline, or under a strict CSP)."""
from flask import Blueprint, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/api/docs/assets/"
# What flask-smorest's swagger_ui.html loads; nothing else of the package is served.
FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"})

blp = Blueprint("docs_assets", __name__)


@blp.get(ASSETS_URL + "<filename>")
def asset(filename: str):
    if filename not in FILES:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
