"""The app factory: settings, the engine and services, the API's blueprints and docs, the web app."""

from __future__ import annotations

import atexit
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from registry import languages, web
from registry.api import register_blueprints, security
from registry.api.extension import EXTENSION_KEY
from registry.api.problems import ProblemApi, register_problem_handlers
from registry.config import load_settings
from registry.services import in_process_workers, open_services

API_VERSION = "1.0.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, storage chosen by configuration, bulk-check workers, blueprints, docs, pages."""
    settings = load_settings(test_config)
    app = Flask("registry")
    app.config.update(
        IRONTRACE=settings,
        MAX_CONTENT_LENGTH=settings["MAX_CONTENT_LENGTH"],
        API_TITLE="IronTrace",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS=security.SPEC_OPTIONS,
    )
    if settings["TRUSTED_PROXIES"]:
        proxies = settings["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    services = open_services(settings)
    atexit.register(services.close)
    services.start_workers(in_process_workers(settings, services.engine))
    app.extensions[EXTENSION_KEY] = services

    api = ProblemApi(app)
    register_problem_handlers(app)
    security.install(app)
    register_blueprints(api)
    languages.configure(app)
    web.install(app)
    return app
