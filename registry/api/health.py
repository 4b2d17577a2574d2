"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.common import HealthSchema
from registry.errors import StorageFull, StorageUnavailable

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.doc(security=[], operationId="liveness")
    @blp.response(200, HealthSchema, example=examples.LIVE)
    def get(self):
        """The process is up (says nothing of storage)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.doc(security=[], operationId="readiness")
    @blp.response(200, HealthSchema, example=examples.READY)
    @blp.alt_response(503, description="Storage unreachable or full (`reason`); retry after Retry-After seconds")
    def get(self):
        """Storage is reachable and can serve checks."""
        engine = services().engine
        try:
            engine.ping()
        except StorageFull as exc:  # reads would work, but no check can be recorded: not ready
            raise StorageUnavailable(exc.detail, reason="storage_full") from exc
        return {"status": "ready", "storage": engine.name}
