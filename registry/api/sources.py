"""/v1/sources: the external registries checks ask, and whether they answer."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.checks import SourceHealthSchema
from registry.api.security import current_actor

blp = Blueprint("sources", __name__, url_prefix="/v1/sources", description="External registries")


@blp.route("")
class Sources(MethodView):
    @blp.response(200, SourceHealthSchema(many=True))
    def get(self):
        """Each configured source's health probe (within its deadline) and circuit state; [] when none."""
        return services().checks.sources_health(current_actor())
