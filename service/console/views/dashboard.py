"""The dashboard: outcomes of the last day and week, calls per hour, the backlog now."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, jsonify, render_template

from service.console.blueprint import bp
from service.dialer.dashboard import (
    count_calls_per_hour,
    measure_backlog,
    read_tracking_activity,
    summarize_outcomes,
)

WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))


def console_now():
    return current_app.extensions["console"].clock()


@bp.route("/")
def dashboard():
    now = console_now()
    summaries = [(name, summarize_outcomes(now, window)) for name, window in WINDOWS]
    return render_template("console/dashboard.html", now=now, summaries=summaries,
                           hours=count_calls_per_hour(now), backlog=measure_backlog(),
                           activity=read_tracking_activity())


@bp.route("/calls-per-hour.json")
def calls_per_hour():
    """The live chart's data: the same numbers as the page's chart."""
    hours = count_calls_per_hour(console_now())
    return jsonify([{"hour": start.isoformat(), "calls": calls} for start, calls in hours])
