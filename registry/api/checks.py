"""/v1/checks: is this identifier reported stolen or missing?"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.context import services
from registry.schemas import CheckRequestSchema, CheckResultSchema
from registry.services import check_view
from search.matching import CheckQuery

blp = Blueprint("checks", __name__, url_prefix="/v1/checks", description="Check an identifier")


@blp.route("")
class Checks(MethodView):
    @blp.arguments(CheckRequestSchema)
    @blp.response(200, CheckResultSchema)
    def post(self, data: dict):
        """Check what was read off a plate (and optionally maker, category, description)."""
        return check_view(*services().checks.check(CheckQuery(**data)))
