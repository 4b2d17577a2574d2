"""IronTrace: a registry of stolen and missing mining and heavy equipment.

Serve it with ``gunicorn 'registry:create_app()'`` (``irontrace serve`` does);
configure it with ``IRONTRACE_*`` environment variables (``registry.config``).
The app itself is built in ``registry.app``; importing this package stays
cheap so that the layers below (storage, services) load without Flask's views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The WSGI application (``registry.app.create_app``)."""
    from registry.app import create_app as build

    return build(test_config)
