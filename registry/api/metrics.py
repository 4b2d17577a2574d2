"""/metrics: Prometheus metrics of every serving process (admin keys only)."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.security import current_actor

blp = Blueprint("metrics", __name__, description="Operations")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(operationId="metrics")
    @blp.response(200, {"type": "string"}, content_type="text/plain",
                  description="Prometheus text exposition format", example=examples.METRICS_TEXT)
    def get(self):
        """Requests, checks, external sources, the bulk queue and audit failures, summed over every process."""
        body, content_type = services().metrics.exposition(current_actor())
        return Response(body, content_type=content_type)
