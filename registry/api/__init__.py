"""The v1 HTTP API: thin flask-smorest views over the service layer.

To add an endpoint: a view module here with its blueprint (listed in
``BLUEPRINTS`` below), its schemas in ``schemas/``, and the permission check
in the service method it calls; ``tests/test_access.py`` fails until the new
endpoint has a row in its access matrix.
"""

from __future__ import annotations

from flask_smorest import Api, Blueprint


def blueprints() -> list[Blueprint]:
    """Every blueprint of the API, in the order the OpenAPI document lists them."""
    from registry.api import (
        audit,
        bulk,
        changes,
        checks,
        confirmations,
        health,
        keys,
        metrics,
        reports,
        sources,
        webhooks,
    )

    return [health.blp, reports.blp, checks.blp, confirmations.blp, webhooks.blp, bulk.blp, sources.blp, keys.blp,
            audit.blp, metrics.blp, changes.blp]


def register_blueprints(api: Api) -> None:
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
