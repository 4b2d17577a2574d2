"""Every error leaves the service as an RFC 9457 problem document.

Domain errors map to a status through ``registry.errors.HTTP_STATUS``;
werkzeug's HTTP errors and webargs' validation errors keep their status;
anything unexpected becomes a bare 500 problem, logged, never a traceback.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, InternalServerError

from registry.api.schemas.common import ProblemSchema
from registry.errors import IronTraceError, Unauthenticated, flatten_messages, http_status

PROBLEM_TYPE = "about:blank"
PROBLEM_CONTENT_TYPE = "application/problem+json"

log = logging.getLogger(__name__)


def problem_response(status: int, title: str, detail: str | None = None, **extra: object) -> Response:
    body = {"type": PROBLEM_TYPE, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)


class ProblemApi(Api):
    """flask-smorest's Api, speaking problem+json for every error."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """Document the error responses as what they are on the wire: problem+json."""
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_CONTENT_TYPE
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE  # success responses keep the class default

    def handle_http_exception(self, error: HTTPException) -> Response:
        if isinstance(error, InternalServerError) and error.original_exception is not None:
            log.error("unhandled error", exc_info=error.original_exception)
            return problem_response(500, "Internal error", "The service failed; the failure was logged.")
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        errors = flatten_messages(_unwrap_location(messages)) if messages else None
        if errors and error.code == 422:
            detail: str | None = "Some fields are invalid."
        elif errors:
            detail = " ".join(e["message"] for e in errors)
        else:
            detail = error.description
        response = problem_response(error.code or 500, error.name, detail, errors=errors)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response


def handle_domain_error(error: IronTraceError) -> Response:
    status = http_status(error)
    response = problem_response(status, error.title, error.detail, **error.extra)
    if error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="irontrace"'
    return response


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(IronTraceError, handle_domain_error)


def _unwrap_location(messages: dict) -> dict:
    """webargs nests errors under the location ("json", "query"); fields are what matter."""
    if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in ("json", "query", "headers"):
        return next(iter(messages.values()))
    return messages
