"""The simulator's HTTP face: Daktela's /api/v6 routes and /_simulator control hooks."""
from __future__ import annotations

import json
import time

from flask import Flask, Response, request

from daktela_simulator.core import Simulator
from daktela_simulator.query import QueryError, build_predicate, nest_params, page_bounds, sort_records

AFTER_WRITE_FAULTS = ("timeout_after_write", "truncated", "lost_after_write")


def field_value(record: dict, field: str):
    if field.startswith("customFields."):
        values = record.get("customFields", {}).get(field.split(".", 1)[1]) or []
        return values[0] if values else None
    if field == "statuses":
        return record["statuses"][0] if record["statuses"] else None
    if field.startswith("statuses."):
        return record["statuses"][0] if record["statuses"] else None
    if field.startswith("record_type"):
        return record.get("record_type")
    return record.get(field)


def create_simulator_app(sim: Simulator) -> Flask:
    app = Flask("daktela_simulator")

    def envelope(result, status=200, error=None, headers=None):
        body = {"error": [] if error is None else error, "result": result, "_time": sim.now_text()}
        return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")

    def authenticated() -> bool:
        token = (request.headers.get("X-AUTH-TOKEN") or request.args.get("accessToken")
                 or request.cookies.get("c_user"))
        return token in sim.access_tokens

    @app.before_request
    def before():
        if not request.path.startswith("/api/v6/"):
            return None
        sim.log_request({
            "method": request.method, "path": request.path, "query": request.query_string.decode(),
            "token_header": request.headers.get("X-AUTH-TOKEN"),
            "json": request.get_json(silent=True) if request.is_json else None,
        })
        if sim.latency_seconds:
            time.sleep(sim.latency_seconds)
        if not authenticated():
            return envelope(None, 401, ["Invalid or missing access token"])
        fault = sim.take_fault(request.method)
        request.environ["simulator.fault"] = fault
        if fault == "500":
            return envelope(None, 500, ["Internal server error"])
        if fault == "502_html":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, mimetype="text/html")
        if fault == "429":
            return envelope(None, 429, ["Too many requests"], headers={"Retry-After": sim.retry_after})
        if fault == "401":
            return envelope(None, 401, ["Invalid or missing access token"])
        if fault == "400_validation":
            return envelope(request.get_json(silent=True), 400,
                            {"primary": ["Record is not valid"], "form": {"number": ["Invalid phone number"]}})
        if fault == "garbage":
            return Response("<html>Maintenance</html>", 200, mimetype="text/html")
        if fault == "timeout":
            time.sleep(sim.timeout_seconds)
            return envelope(None, 504, ["Gateway timeout"])
        return None

    @app.after_request
    def after(response: Response):
        fault = request.environ.get("simulator.fault")
        if fault not in AFTER_WRITE_FAULTS:
            return response
        if fault == "timeout_after_write":
            time.sleep(sim.timeout_seconds)
            return response
        if fault == "truncated":
            data = response.get_data()
            response.set_data(data[: max(len(data) // 2, 1)])
        # lost_after_write is done by drop_lost_responses, below Flask.
        return response

    @app.post("/api/v6/campaignsRecords.json")
    def create_record():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return envelope(None, 400, ["Invalid request"])
        status, record, error = sim.create(data)
        return envelope(sim.render(record) if status == 201 else record, status, error)

    @app.get("/api/v6/campaignsRecords.json")
    def list_records():
        params = nest_params(request.args.items(multi=True))
        try:
            predicate = build_predicate(params.get("filter"), field_value)
            skip, take = page_bounds(params)
        except QueryError as exc:
            return envelope(None, 400, [str(exc)])
        query = json.dumps([params.get("filter"), params.get("sort")], sort_keys=True, default=str)
        with sim.lock:
            matches = sim.matching(query, lambda records: sort_records(
                [r for r in records if predicate(r)], params.get("sort"), field_value))
            page = [sim.render(r) for r in matches[skip: skip + take]]
        return envelope({"data": page, "total": len(matches)})

    @app.get("/api/v6/campaignsRecords/<name>.json")
    def read_record(name):
        record = sim.get(name)
        return envelope(sim.render(record)) if record else envelope(None, 404, ["Object not exist"])

    @app.put("/api/v6/campaignsRecords/<name>.json")
    def update_record(name):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return envelope(None, 400, ["Invalid request"])
        record = sim.update(name, data)
        return envelope(sim.render(record)) if record else envelope(None, 404, ["Object not exist"])

    @app.delete("/api/v6/campaignsRecords/<name>.json")
    def delete_record(name):
        return Response(status=204) if sim.delete(name) else envelope(None, 404, ["Object not exist"])

    @app.get("/api/v6/whoim.json")
    def whoim():
        return envelope({"user": {"name": "simulator"}})

    register_control_routes(app, sim)
    app.wsgi_app = drop_lost_responses(app.wsgi_app)
    return app


def drop_lost_responses(wsgi_app):
    """For lost_after_write: the record is written, then the answer never arrives.

    The headers promise a body that is not sent, so the server closes the
    connection and the client sees it drop, as when a proxy dies mid-answer.
    """

    def middleware(environ, start_response):
        parts = {}

        def capture(status, headers, exc_info=None):
            parts["status"], parts["headers"] = status, headers
            return lambda data: None

        body = wsgi_app(environ, capture)
        if environ.get("simulator.fault") != "lost_after_write":
            start_response(parts["status"], parts["headers"])
            return body
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()
        start_response("201 CREATED", [("Content-Type", "application/json"), ("Content-Length", "4096")])
        return [b""]

    return middleware


def register_control_routes(app: Flask, sim: Simulator) -> None:
    @app.post("/_simulator/records/<name>/call")
    def play_call(name):
        data = request.get_json(silent=True) or {}
        record = sim.play_call(name, data.get("action", 5), data.get("statuses", []),
                               data.get("nextcall"), data.get("call_id"))
        return ({"record": sim.render(record)}, 200) if record else ({"error": "no such record"}, 404)

    @app.post("/_simulator/records/bulk")
    def create_records_in_bulk():
        """Seed many records at once (benchmarks): {names, record_type?, edited?}."""
        data = request.get_json(silent=True) or {}
        names = data.get("names") or []
        edited = data.get("edited")
        for name in names:
            sim.create({"name": name, "record_type": data.get("record_type", "tts")})
            if edited:
                with sim.lock:
                    sim.records[name]["created"] = sim.records[name]["edited"] = edited
                    sim.touch()
        return {"created": len(names)}

    @app.post("/_simulator/records/bulk-call")
    def play_calls_in_bulk():
        data = request.get_json(silent=True) or {}
        played = [sim.play_call(name, data.get("action", 5), data.get("statuses", []))
                  for name in data.get("names", [])]
        return {"played": sum(1 for record in played if record)}

    @app.post("/_simulator/faults")
    def inject_fault():
        data = request.get_json(silent=True) or {}
        try:
            if "rate" in data:
                sim.set_fault_rate(float(data["rate"]), data.get("kinds") or sim.fault_kinds)
            else:
                sim.inject(str(data.get("kind")), int(data.get("count", 1)), data.get("method"))
        except (TypeError, ValueError) as exc:
            return {"error": str(exc)}, 400
        return {"ok": True}

    @app.post("/_simulator/webhooks")
    def add_webhook():
        data = request.get_json(silent=True) or {}
        if "enabled" in data:
            sim.webhooks_enabled = bool(data["enabled"])
        if data.get("url"):
            sim.add_hook(data["url"], data.get("headers"), data.get("body_format", "json"))
        return {"hooks": [hook.url for hook in sim.hooks], "enabled": sim.webhooks_enabled}

    @app.post("/_simulator/reset")
    def reset():
        sim.reset()
        return {"ok": True}

    @app.get("/_simulator/stats")
    def stats():
        with sim.lock:
            return {**sim.stats, "records": len(sim.records)}
