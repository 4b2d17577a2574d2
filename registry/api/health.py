"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.common import HealthSchema

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    def get(self):
        """The process is up (says nothing of storage)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="Storage unreachable; retry after Retry-After seconds")
    def get(self):
        """Storage is reachable and can serve checks."""
        engine = services().engine
        engine.ping()
        return {"status": "ready", "storage": engine.name}
