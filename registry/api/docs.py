"""/docs: Swagger UI over the OpenAPI document, served entirely by the app.

The assets come from the ``swagger-ui-bundle`` package, so the page works
offline and its Content-Security-Policy admits the app's own origin only (no
CDN, no inline script: the start-up script is a file of its own).
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, abort, send_from_directory, url_for

blp = Blueprint("docs", __name__)

ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
SERVED_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                           "favicon-32x32.png"})
ASSET_MAX_AGE_SECONDS = 86400
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
ENDPOINTS = frozenset({"docs.page", "docs.start_script", "docs.asset"})

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>IronTrace API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui" data-openapi="{openapi}"></div>
  <script src="{bundle}"></script>
  <script src="{preset}"></script>
  <script src="{start}"></script>
</body>
</html>
"""
START_SCRIPT = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
});
"""


@blp.get("/docs")
def page() -> Response:
    """The browsable API documentation."""
    html = PAGE.format(
        css=url_for("docs.asset", name="swagger-ui.css"), icon=url_for("docs.asset", name="favicon-32x32.png"),
        openapi=url_for("api-docs.openapi_json"), bundle=url_for("docs.asset", name="swagger-ui-bundle.js"),
        preset=url_for("docs.asset", name="swagger-ui-standalone-preset.js"), start=url_for("docs.start_script"),
    )
    return Response(html, mimetype="text/html")


@blp.get("/docs/start.js")
def start_script() -> Response:
    return Response(START_SCRIPT, mimetype="text/javascript")


@blp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    if name not in SERVED_ASSETS:
        abort(404)
    response = send_from_directory(ASSETS, name, max_age=ASSET_MAX_AGE_SECONDS)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE_SECONDS}"
    return response
