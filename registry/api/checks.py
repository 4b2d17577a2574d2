"""/v1/checks: is this identifier reported stolen or missing?"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.security import current_actor
from registry.context import services
from registry.schemas import BulkCheckRequestSchema, BulkCheckResultSchema, CheckRequestSchema, CheckResultSchema
from registry.services import check_view
from search.matching import CheckQuery

blp = Blueprint("checks", __name__, url_prefix="/v1/checks", description="Check an identifier")


@blp.route("")
class Checks(MethodView):
    @blp.arguments(CheckRequestSchema)
    @blp.response(200, CheckResultSchema)
    def post(self, data: dict):
        """Check what was read off a plate (and optionally maker, category, description)."""
        actor = current_actor()
        return check_view(*services().checks.check(CheckQuery(**data), actor), actor.match_detail)


@blp.route("/bulk")
class BulkChecks(MethodView):
    @blp.arguments(BulkCheckRequestSchema)
    @blp.response(200, BulkCheckResultSchema)
    def post(self, data: dict):
        """Check up to 100 readings at once (a manifest, a yard inventory); results in the same order."""
        actor = current_actor()
        checked = services().checks.check_many([CheckQuery(**item) for item in data["checks"]], actor)
        return {"results": [check_view(record, outcome, actor.match_detail) for record, outcome in checked]}
