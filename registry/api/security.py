"""What every API request passes through: authentication, rate limits, CORS, security headers.

Every endpoint of the API needs a valid API key (``Authorization: Bearer
<key>``) except the few in ``PUBLIC_ENDPOINTS``; what a role may do is
checked by the service layer (``registry.access``), which is where the rules
live.  The web app's pages (``registry.web``) sign people in with sessions
instead; the headers below apply to every response.

Limits are counted by ``registry.services.usage`` in the engine, so every
worker of a deployment shares them: an address that failed to authenticate
too often is refused before its key is even looked at (``429``), and each key
spends one request of its rate limit per request, told how much is left in
the ``RateLimit-*`` headers (IETF draft ``draft-ietf-httpapi-ratelimit-headers``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request

from registry.access import Actor
from registry.api import blueprints, docs
from registry.api.extension import services
from registry.errors import RateLimited, Unauthenticated
from registry.metering import Allowance

PUBLIC_ENDPOINTS = frozenset({
    "health.Liveness",
    "health.Readiness",
    "api-docs.openapi_json",
    *docs.ENDPOINTS,
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
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, Accept, X-Request-ID"
CORS_EXPOSED_HEADERS = ("Location, ETag, Retry-After, X-Request-ID, RateLimit-Limit, RateLimit-Remaining, "
                        "RateLimit-Reset, RateLimit-Policy")
CORS_MAX_AGE_SECONDS = 600
BEARER = "bearer "
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API key from `irontrace keys create`."}
API_BLUEPRINTS_KEY = "irontrace.api_blueprints"


def current_actor() -> Actor:
    """The actor the request's key stands for (set before any protected view runs)."""
    return g.actor


def install(app: Flask) -> None:
    app.extensions[API_BLUEPRINTS_KEY] = frozenset(blueprint.name for blueprint in blueprints())
    app.before_request(_preflight_or_authenticate)
    app.after_request(_add_headers)


def _preflight_or_authenticate() -> Response | None:
    preflight = request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method")
    if preflight and _allowed_origin():
        return _preflight_response()
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS or not is_api(request.blueprint):
        return None  # unknown paths answer 404 as they would anyway; pages have sessions of their own
    usage, address = services().usage, request.remote_addr
    blocked = usage.address_blocked(address)
    if blocked is not None:
        raise RateLimited(f"Too many failed authentications from this address; retry in {blocked.retry_after} s.",
                          retry_after_seconds=blocked.retry_after)
    try:
        g.actor = _authenticate(address)
    except Unauthenticated:
        usage.failed_authentication(address)
        raise
    g.rate_limit = allowance = usage.throttle(g.actor.principal)
    if allowance is not None and not allowance.allowed:
        raise RateLimited(f"Too many requests with this key; retry in {allowance.retry_after} s.",
                          retry_after_seconds=allowance.retry_after)
    return None


def _authenticate(address: str | None) -> Actor:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith(BEARER):
        raise Unauthenticated("Send an API key: Authorization: Bearer <key>.")
    return services().keys.authenticate(header[len(BEARER):].strip(), address)


def is_api(blueprint: str | None) -> bool:
    """Whether ``blueprint`` is one of the API's (the web app's pages sign in and post forms instead)."""
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
    if request.endpoint in docs.ENDPOINTS:
        response.headers["Content-Security-Policy"] = docs.CONTENT_SECURITY_POLICY
    allowance: Allowance | None = g.get("rate_limit")
    if allowance is not None:
        response.headers.update(rate_limit_headers(allowance))
    origin = _allowed_origin()
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
        response.vary.add("Origin")
    return response


def rate_limit_headers(allowance: Allowance) -> dict[str, str]:
    """The key's rate limit as the IETF draft's ``RateLimit-*`` fields: the bucket's size, what is
    left of it, seconds until it is full again, and the policy (``burst;w=seconds to fill``)."""
    rate = services().usage.rate
    return {"RateLimit-Limit": str(allowance.limit), "RateLimit-Remaining": str(allowance.remaining),
            "RateLimit-Reset": str(allowance.reset_seconds), "RateLimit-Policy": f"{rate.burst};w={rate.window}"}


# OpenAPI: the bearer scheme, required by every operation unless it says otherwise.
SPEC_OPTIONS: dict[str, Any] = {"security": [{"bearerAuth": []}],
                                "components": {"securitySchemes": {"bearerAuth": SECURITY_SCHEME}}}
