"""/v1/checks: is this identifier reported stolen or missing?"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.checks import CheckRequestSchema, CheckResultSchema
from registry.api.security import current_actor
from search.query import CheckQuery

blp = Blueprint("checks", __name__, url_prefix="/v1/checks", description="Check an identifier")


@blp.route("")
class Checks(MethodView):
    @blp.arguments(CheckRequestSchema)
    @blp.response(200, CheckResultSchema)
    def post(self, data: dict):
        """Check what was read off a plate (and optionally maker, category, description)."""
        return services().checks.check(current_actor(), CheckQuery(**data)).to_dict()


