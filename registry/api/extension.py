"""Where a request finds the services of its app instance."""

from __future__ import annotations

from flask import current_app

from registry.services import EXTENSION_KEY, Services

__all__ = ["EXTENSION_KEY", "services"]


def services() -> Services:
    """The services the app was created with (``registry.app.create_app``)."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
