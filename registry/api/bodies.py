"""Request bodies: JSON read strictly, and only JSON where JSON is expected.

Every JSON body, whether read by a view's schema (webargs) or by
``request.get_json``, goes through ``registry.validation.load_json``: a body
nested 100,000 deep, an integer of 5,000 digits or a lone surrogate is a 400
problem, never a 500.  A body that is not JSON at all (a form, plain text)
sent to an endpoint that reads JSON is a 415; views that take files say so
with ``accepts_files``.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import UnsupportedMediaType

from registry.api.security import is_api
from registry.validation import load_json

JSON_MEDIA_TYPE = "application/json"


def is_json(mimetype: str) -> bool:
    """``application/json`` and its structured-syntax relatives (``application/merge-patch+json``)."""
    return mimetype == JSON_MEDIA_TYPE or (mimetype.startswith("application/") and mimetype.endswith("+json"))


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading bodies with ``load_json`` (``request.get_json``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json(s)


class StrictParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with ``load_json``."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json(req.mimetype):
            return core.missing
        return load_json(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose ``arguments`` read JSON strictly; every view module uses it."""

    ARGUMENTS_PARSER = StrictParser()


def require_json_bodies() -> None:
    """Before an API view runs: a body sent to a view that reads JSON must be JSON (else 415).
    The web app's pages post forms."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not is_api(request.blueprint) \
            or getattr(getattr(view, "view_class", None), "accepts_files", False):
        return
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if has_body and not is_json(request.mimetype):
        sent = request.mimetype or "no Content-Type"
        raise UnsupportedMediaType(f"This endpoint reads JSON (Content-Type: {JSON_MEDIA_TYPE}); got {sent}.")
