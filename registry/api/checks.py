"""/v1/checks: is this identifier reported stolen or missing?"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.checks import CheckRequestSchema, CheckResultSchema
from registry.api.security import current_actor
from registry.languages import explanation_in_language
from search.query import CheckQuery

blp = Blueprint("checks", __name__, url_prefix="/v1/checks", description="Check an identifier")


@blp.route("")
class Checks(MethodView):
    @blp.arguments(CheckRequestSchema)
    @blp.response(200, CheckResultSchema)
    def post(self, data: dict):
        """Check what was read off a plate (and optionally maker, category, description).

        Explanations are in the language of ``Accept-Language`` (English, Russian or Kazakh)."""
        query = CheckQuery(**data)
        return services().checks.check(current_actor(), query).to_dict(explanation_in_language(query))


