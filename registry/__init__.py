"""IronTrace: a registry of stolen and missing mining and heavy equipment.

Serve it with ``gunicorn 'registry:create_app()'``; configure it with
``IRONTRACE_*`` environment variables (see ``registry.config``).
"""

from __future__ import annotations

import atexit
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from registry.api import security
from registry.config import load_settings
from registry.context import EXTENSION_KEY, Services, in_process_workers
from registry.problems import ProblemApi, register_problem_handlers

API_VERSION = "1.0.0"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, storage chosen by configuration, bulk-check workers, blueprints, docs."""
    settings = load_settings(test_config)
    app = Flask(__name__)
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
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["TRUSTED_PROXIES"])
    app.json.sort_keys = False
    services = Services.open(settings)
    atexit.register(services.close)
    services.start_workers(in_process_workers(settings))
    app.extensions[EXTENSION_KEY] = services

    api = ProblemApi(app)
    register_problem_handlers(app)
    security.install(app)
    from registry.api import audit, bulk, checks, health, keys, reports, sources

    for blueprint in (health.blp, reports.blp, checks.blp, bulk.blp, sources.blp, keys.blp, audit.blp):
        api.register_blueprint(blueprint)
    return app
