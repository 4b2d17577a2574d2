"""A simulator of both external protocols, for tests and demos: ``python -m integrations.simulator``.

It serves the stolen-vehicles protocol (``/smv/v1``), the screening protocol
(``/screening/v1``) and published feeds (``/feeds/<name>``, with ETag and
Last-Modified) from a configurable data set, and can be told, per protocol,
to be slow, drop connections, answer 500 or 503, or answer garbage:

    PUT /_control/smv        {"delay": 1.5, "mode": "error"}
    PUT /_control/feeds/NAME (body: the feed's new content; Content-Type kept)
    GET /_control/requests   how many requests each protocol received

Modes: ``normal``, ``error`` (500), ``unavailable`` (503), ``drop`` (close the
connection without an answer), ``garbage`` (200 with an HTML page),
``malformed`` (200 with JSON that breaks the protocol).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, request

from search.normalize import normalize

PROTOCOLS = ("smv", "screening", "feeds")
MODES = ("normal", "error", "unavailable", "drop", "garbage", "malformed")
DEFAULT_PORT = 8700
DEFAULT_API_KEY = "simulator-demo-key"
GARBAGE = "<html><body><h1>Service temporarily moved</h1></body></html>"
MALFORMED = {"smv": {"records": "none"}, "screening": {"result": 42}, "feeds": {}}

DEFAULT_RECORDS: list[dict[str, Any]] = [
    {"record_id": "SMV-UZ-2026-004217", "identifier": {"type": "pin", "value": "KMTWA470C2A31544"},
     "status": "stolen", "owner_country": "UZ", "category": "loader", "manufacturer": "Komatsu",
     "model": "WA470-8", "reported_at": "2026-10-02"},
    {"record_id": "SMV-KG-2025-000931", "identifier": {"type": "vin", "value": "XTC65115381170552"},
     "status": "stolen", "owner_country": "KG", "category": "haul_truck", "manufacturer": "KAMAZ",
     "model": "65115", "reported_at": "2025-12-14"},
    {"record_id": "SMV-KZ-2024-011002", "identifier": {"type": "serial", "value": "HCM1U100C00017042"},
     "status": "recovered", "owner_country": "KZ", "category": "excavator", "manufacturer": "Hitachi",
     "model": "ZX350LC-6", "reported_at": "2024-03-30"},
]


@dataclass
class Knobs:
    delay: float = 0.0
    mode: str = "normal"


@dataclass
class Feed:
    content: bytes
    content_type: str
    etag: str
    modified: float

    @classmethod
    def of(cls, content: bytes, content_type: str) -> Feed:
        return cls(content, content_type, '"' + hashlib.sha256(content).hexdigest()[:32] + '"', time.time())


@dataclass
class SimulatorState:
    records: list[dict[str, Any]]
    api_key: str
    knobs: dict[str, Knobs] = field(default_factory=lambda: {p: Knobs() for p in PROTOCOLS})
    feeds: dict[str, Feed] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    screenings: int = 0


def create_simulator(records: list[dict[str, Any]] | None = None, api_key: str = DEFAULT_API_KEY) -> Flask:
    """The simulator app; ``app.extensions["simulator"]`` is its state."""
    app = Flask(__name__)
    state = SimulatorState(list(DEFAULT_RECORDS if records is None else records), api_key)
    app.extensions["simulator"] = state

    def misbehave(protocol: str) -> Response | None:
        """Count the request, wait as told, and answer as the mode says (None: answer normally)."""
        with state.lock:
            state.requests[protocol] += 1
            knobs = Knobs(**vars(state.knobs[protocol]))
        if knobs.delay:
            time.sleep(knobs.delay)
        if knobs.mode == "error":
            return Response("internal error", status=500)
        if knobs.mode == "unavailable":
            return Response("unavailable", status=503, headers={"Retry-After": "1"})
        if knobs.mode == "drop":
            connection = request.environ.get("werkzeug.socket")
            if connection is not None:
                connection.shutdown(socket.SHUT_RDWR)
            return Response(status=500)
        if knobs.mode == "garbage":
            return Response(GARBAGE, status=200, mimetype="text/html")
        if knobs.mode == "malformed":
            return jsonify(MALFORMED[protocol])
        return None

    def matching(identifier: str) -> list[dict[str, Any]]:
        wanted = normalize(identifier)
        return [r for r in state.records if wanted and normalize(r["identifier"]["value"]) == wanted]

    @app.get("/smv/v1/records")
    def smv_records():
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            return jsonify({"error": "invalid_token"}), 401
        answer = misbehave("smv")
        if answer is not None:
            return answer
        found = matching(request.args.get("identifier", ""))
        return jsonify({
            "records": [{**r, "reference": f"{request.host_url}smv/v1/records/{r['record_id']}"} for r in found],
            "total": len(found),
        })

    @app.get("/smv/v1/records/<record_id>")
    def smv_record(record_id: str):
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            return jsonify({"error": "invalid_token"}), 401
        answer = misbehave("smv")
        if answer is not None:
            return answer
        found = [r for r in state.records if r["record_id"] == record_id]
        return jsonify(found[0]) if found else (jsonify({"error": "not_found"}), 404)

    @app.post("/screening/v1/screenings")
    def screenings():
        if request.headers.get("X-Api-Key") != state.api_key:
            return jsonify({"error": "invalid_key"}), 401
        answer = misbehave("screening")
        if answer is not None:
            return answer
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.screenings += 1
            reference = f"SCR-{state.screenings:08d}"
        hit = any(r["status"] in ("stolen", "missing") for r in matching(str(body.get("identifier", ""))))
        return jsonify({"result": "hit" if hit else "no_hit", "reference": reference})

    @app.get("/smv/v1/health")
    @app.get("/screening/v1/health")
    def health():
        protocol = request.path.split("/")[1]
        return misbehave(protocol) or jsonify({"status": "ok"})

    @app.get("/feeds/<name>")
    def feed(name: str):
        answer = misbehave("feeds")
        if answer is not None:
            return answer
        current = state.feeds.get(name) or abort(404)
        headers = {"ETag": current.etag, "Last-Modified": formatdate(current.modified, usegmt=True)}
        if request.headers.get("If-None-Match") == current.etag or _not_modified_since(current.modified):
            return Response(status=304, headers=headers)
        return Response(current.content, mimetype=current.content_type, headers=headers)

    @app.put("/_control/feeds/<name>")
    def set_feed(name: str):
        state.feeds[name] = Feed.of(request.get_data(), request.mimetype or "application/x-ndjson")
        return jsonify({"etag": state.feeds[name].etag})

    @app.put("/_control/<protocol>")
    def set_knobs(protocol: str):
        body = request.get_json(force=True)
        if protocol not in PROTOCOLS or body.get("mode", "normal") not in MODES:
            abort(400)
        with state.lock:
            state.knobs[protocol] = Knobs(float(body.get("delay", 0)), body.get("mode", "normal"))
        return jsonify(vars(state.knobs[protocol]))

    @app.get("/_control/requests")
    def request_counts():
        with state.lock:
            return jsonify(dict(state.requests))

    return app


def _not_modified_since(modified: float) -> bool:
    """If-Modified-Since has one-second resolution: not modified unless changed after that second."""
    since = request.headers.get("If-Modified-Since")
    if not since or request.headers.get("If-None-Match"):
        return False
    try:
        return int(modified) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False


def serve(host: str, port: int, data: Path | None, api_key: str) -> None:
    """Serve the simulator until interrupted (``irontrace simulator`` runs this)."""
    records = json.loads(data.read_text()) if data else None
    create_simulator(records, api_key).run(host=host, port=port, threaded=True)

