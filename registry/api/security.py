"""What every API request passes through: authentication, rate limits, CORS, security headers.

Every endpoint of the API needs a valid API key (``Authorization: Bearer
<key>``) except the few in ``PUBLIC_ENDPOINTS``; what a role may do is
checked by the service layer (``registry.access``), which is where the rules
live.  The web app's pages (``registry.web``) sign people in with sessions
instead; the headers below apply to every response.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request

from registry.access import Actor
from registry.api import blueprints
from registry.api.extension import services
from registry.api.rate_limit import RateLimiter
from registry.errors import RateLimited, Unauthenticated

PUBLIC_ENDPOINTS = frozenset({
    "health.Liveness",
    "health.Readiness",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# The API docs page runs Swagger UI from its CDN, with an inline start-up script.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: https://cdn.jsdelivr.net; "
    "connect-src 'self'; frame-ancestors 'none'"
)
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, Accept"
CORS_EXPOSED_HEADERS = "Location, ETag, Retry-After"
CORS_MAX_AGE_SECONDS = 600
BEARER = "bearer "
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API key from `irontrace keys create`."}
LIMITER_KEY = "irontrace.rate_limiter"
API_BLUEPRINTS_KEY = "irontrace.api_blueprints"


def current_actor() -> Actor:
    """The actor the request's key stands for (set before any protected view runs)."""
    return g.actor


def install(app: Flask) -> None:
    settings = app.config["IRONTRACE"]
    app.extensions[LIMITER_KEY] = RateLimiter(settings["RATE_LIMIT_PER_MINUTE"], settings["RATE_LIMIT_BURST"])
    app.extensions[API_BLUEPRINTS_KEY] = frozenset(blueprint.name for blueprint in blueprints())
    app.before_request(_preflight_or_authenticate)
    app.after_request(_add_headers)


def _preflight_or_authenticate() -> Response | None:
    preflight = request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method")
    if preflight and _allowed_origin():
        return _preflight_response()
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS or not _is_api(request.blueprint):
        return None  # unknown paths answer 404 as they would anyway; pages have sessions of their own
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(BEARER):
        raise Unauthenticated("Send an API key: Authorization: Bearer <key>.")
    g.actor = services().keys.authenticate(header[len(BEARER):].strip(), request.remote_addr)
    wait = current_app.extensions[LIMITER_KEY].acquire(g.actor.principal)
    if wait:
        raise RateLimited(f"Too many requests with this key; retry in {wait} s.", retry_after_seconds=wait)
    return None


def _is_api(blueprint: str | None) -> bool:
    return blueprint is not None and blueprint in current_app.extensions[API_BLUEPRINTS_KEY]


def _preflight_response() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE"
    response.headers["Access-Control-Allow-Headers"] = CORS_ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
    return response


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin and origin in current_app.config["IRONTRACE"]["CORS_ORIGINS"] else None


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint == "api-docs.openapi_swagger_ui":
        response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    origin = _allowed_origin()
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
        response.vary.add("Origin")
    return response


# OpenAPI: the bearer scheme, required by every operation unless it says otherwise.
SPEC_OPTIONS: dict[str, Any] = {"security": [{"bearerAuth": []}],
                                "components": {"securitySchemes": {"bearerAuth": SECURITY_SCHEME}}}
