"""A webhook receiver for tests and demos: ``irontrace receiver`` (or ``python -m integrations.webhook_receiver``).

It verifies each delivery's Standard Webhooks signature with the secret it is
given (``standardwebhooks``: HMAC-SHA256 of ``id.timestamp.body``, timestamp
within 5 minutes), keeps the events it accepted, once per ``webhook-id``
(a retried delivery is recorded once, counted in ``repeats``), and can be
told to fail, as a receiver that is down answers:

    POST /hooks              the webhook URL to register
    GET  /_control/events    {"events": [...accepted, in order], "repeats": n, "rejected": n}
    PUT  /_control/mode      {"mode": "normal" | "unavailable"}   (unavailable: 503 to every delivery)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import click
from flask import Flask, jsonify, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

DEFAULT_PORT = 8710
MODES = ("normal", "unavailable")


@dataclass
class ReceiverState:
    secret: str
    mode: str = "normal"
    events: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    repeats: int = 0
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def create_receiver(secret: str) -> Flask:
    """The receiver app, accepting deliveries signed with ``secret`` (``whsec_...``)."""
    app = Flask("webhook_receiver")
    state = ReceiverState(secret)
    app.extensions["receiver"] = state

    @app.post("/hooks")
    def receive():
        if state.mode == "unavailable":
            return jsonify({"error": "unavailable"}), 503
        body = request.get_data(as_text=True)
        try:
            event = Webhook(state.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            with state.lock:
                state.rejected += 1
            return jsonify({"error": "bad signature"}), 401
        delivery_id = request.headers["webhook-id"]
        with state.lock:
            if delivery_id in state.seen:
                state.repeats += 1
            else:
                state.seen.add(delivery_id)
                state.events.append({"webhook_id": delivery_id, **event})
        return "", 204

    @app.get("/_control/events")
    def events():
        with state.lock:
            return jsonify({"events": state.events, "repeats": state.repeats, "rejected": state.rejected})

    @app.put("/_control/mode")
    def set_mode():
        mode = (request.get_json(silent=True) or {}).get("mode")
        if mode not in MODES:
            return jsonify({"error": f"mode is one of {', '.join(MODES)}"}), 400
        state.mode = mode
        return jsonify({"mode": mode})

    return app


@click.command("receiver")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--secret", envvar="WEBHOOK_SECRET", required=True,
              help="The webhook's secret as IronTrace showed it (whsec_...), or WEBHOOK_SECRET.")
def receiver(host: str, port: int, secret: str) -> None:
    """Receive webhook deliveries at /hooks, verify their signatures and keep the events (tests, demos)."""
    click.echo(f"receiving at http://{host}:{port}/hooks; events at /_control/events", err=True)
    create_receiver(secret).run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    receiver()
