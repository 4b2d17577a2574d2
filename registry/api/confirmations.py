"""/v1/checks/{id}/confirmations and /v1/confirmations: asking the owning agency to confirm a hit."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.hits import (
    AnswerSchema,
    ConfirmationListArgsSchema,
    ConfirmationPageSchema,
    ConfirmationRequestSchema,
    ConfirmationSchema,
)
from registry.api.security import current_actor

blp = Blueprint("confirmations", __name__, url_prefix="/v1", description="Confirm a hit with the owning agency")


@blp.route("/checks/<check_id>/confirmations")
class CheckConfirmations(MethodView):
    @blp.doc(operationId="requestConfirmation")
    @blp.arguments(ConfirmationRequestSchema, example=examples.CONFIRMATION_REQUEST)
    @blp.response(201, ConfirmationSchema, example=examples.CONFIRMATION, headers={
        "Location": {"description": "The new request", "schema": {"type": "string"}}})
    def post(self, data: dict, check_id: str):
        """Ask the agency that owns a report your check matched to confirm it; due in 10 minutes
        (urgent) or an hour (routine).  Only the checker who made the check may ask."""
        request = services().confirmations.request(current_actor(), check_id, **data)
        return request, 201, {"Location": url_for("confirmations.Confirmation", request_id=request["id"])}


@blp.route("/confirmations")
class Confirmations(MethodView):
    @blp.doc(operationId="listConfirmations")
    @blp.arguments(ConfirmationListArgsSchema, location="query")
    @blp.response(200, ConfirmationPageSchema, example=examples.CONFIRMATION_PAGE)
    def get(self, args: dict):
        """Requests you are party to, newest first: an agency's for its reports (and its own), a
        checker's own, an admin's all."""
        page = services().confirmations.list(current_actor(), args.get("status"), args["limit"], args.get("cursor"))
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/confirmations/<request_id>")
class Confirmation(MethodView):
    @blp.doc(operationId="getConfirmation")
    @blp.response(200, ConfirmationSchema, example=examples.CONFIRMATION_ANSWERED)
    def get(self, request_id: str):
        """One request and its answer; to anyone not party to it, it does not exist."""
        return services().confirmations.get(current_actor(), request_id)


@blp.route("/confirmations/<request_id>/answer")
class ConfirmationAnswer(MethodView):
    @blp.doc(operationId="answerConfirmation")
    @blp.arguments(AnswerSchema, example=examples.CONFIRMATION_ANSWER)
    @blp.response(200, ConfirmationSchema, example=examples.CONFIRMATION_ANSWERED)
    @blp.alt_response(409, description="The request was already answered")
    def post(self, data: dict, request_id: str):
        """The owning agency's answer: confirmed, not_confirmed (with a reason) or record_outdated."""
        return services().confirmations.answer(current_actor(), request_id, **data)
