"""Every error leaves the service as an RFC 9457 problem document.

Domain errors map to a status through ``registry.errors.HTTP_STATUS``;
werkzeug's HTTP errors and webargs' validation errors keep their status;
anything unexpected becomes a bare 500 problem, logged, never a traceback.
A problem's title is its status's (``TITLES``), the same whichever part of
the service answered.  Storage failures, which come in floods while they last
(a full disk, a cluster down), are logged once per interval, not per request.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, current_app, json
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, InternalServerError

from registry.api.schemas.common import ProblemSchema
from registry.errors import IronTraceError, StorageUnavailable, Unauthenticated, flatten_messages, http_status
from registry.logs import OncePerInterval

PROBLEM_TYPE = "about:blank"
PROBLEM_CONTENT_TYPE = "application/problem+json"
TITLES = {
    400: "Invalid request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    507: "Insufficient storage",
}
STORAGE_LOG_KEY = "irontrace.storage_log"
NOT_COPIED_HEADERS = frozenset({"content-type", "content-length"})

log = logging.getLogger(__name__)


def title(status: int) -> str:
    """The one title of a status."""
    return TITLES.get(status) or HTTPStatus(status).phrase


def problem_response(status: int, detail: str | None = None, **extra: object) -> Response:
    body = {"type": PROBLEM_TYPE, "title": title(status), "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)


class ProblemApi(Api):
    """flask-smorest's Api, speaking problem+json for every error."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None  # no catch-all: every operation lists the statuses it answers

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
            return problem_response(500, "The service failed; the failure was logged.")
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        errors = flatten_messages(_unwrap_location(messages)) if messages else None
        if errors and error.code == 422:
            detail: str | None = "Some fields are invalid."
        elif errors:
            detail = " ".join(e["message"] for e in errors)
        else:
            detail = error.description
        response = problem_response(error.code or 500, detail, errors=errors)
        for name, value in error.get_headers():  # Allow on a 405, WWW-Authenticate...
            if name.lower() not in NOT_COPIED_HEADERS:
                response.headers[name] = value
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response


def handle_domain_error(error: IronTraceError) -> Response:
    status = http_status(error)
    if isinstance(error, StorageUnavailable):
        current_app.extensions[STORAGE_LOG_KEY].warning(type(error).__name__, f"storage failure: {error.detail}",
                                                        status=status)
    response = problem_response(status, error.detail, **error.extra)
    if error.retry_after_seconds is not None:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="irontrace"'
    return response


def register_problem_handlers(app: Flask) -> None:
    interval = app.config["IRONTRACE"]["STORAGE_ERROR_LOG_SECONDS"]
    app.extensions[STORAGE_LOG_KEY] = OncePerInterval(log, interval)
    app.register_error_handler(IronTraceError, handle_domain_error)


def _unwrap_location(messages: dict) -> dict:
    """webargs nests errors under the location ("json", "query"); fields are what matter."""
    if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in ("json", "query", "headers"):
        return next(iter(messages.values()))
    return messages
