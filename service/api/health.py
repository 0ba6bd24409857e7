"""Liveness and readiness probes (no authentication)."""
import logging

from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.errors import error_response
from service.extensions import db
from service.schemas.probes import ProbeSchema

logger = logging.getLogger(__name__)
blp = Blueprint("health", __name__, description="Probes for the platform; no API key.")


@blp.route("/healthz", methods=["GET"])
@blp.doc(security=[])
@blp.alt_response(200, schema=ProbeSchema, description="The process is up.", success=True)
def healthz():
    """Liveness: the process answers"""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@blp.doc(security=[])
@blp.alt_response(200, schema=ProbeSchema, description="The database is reachable.", success=True,
                  example={"status": "ready"})
@blp.alt_response(503, schema="Error", description="The database is not reachable.")
def readyz():
    """Readiness: the database answers"""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return error_response(503, "The database is not reachable.")
    return {"status": "ready"}
