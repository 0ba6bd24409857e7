"""Liveness and readiness probes (no authentication, not in the API description)."""
import logging

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.errors import error_response
from service.extensions import db

logger = logging.getLogger(__name__)
blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return error_response(503, "The database is not reachable.")
    return {"status": "ready"}
