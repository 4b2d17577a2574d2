"""The web app: what an officer at a border post, a dealer's clerk, an agency's desk and an auditor open.

Server-rendered pages over the same services as the API, acting as the
person signed in (``user:<name>``), so permissions, redaction and the audit
log are the API's.  One blueprint per area, all under the ``web`` blueprint:

``auth``     sign in and out, the language switch
``check``    the start page: check a reading
``confirmations``  ask the owning agency to confirm a hit, and answer (agency)
``bulk``     upload a file, follow the job, download the results
``reports``  list, read, register and edit reports (agency, admin)
``audit``    browse and verify the audit log (auditor, admin)
``admin``    people's accounts and API keys (admin)

Every page needs a signed-in person except sign-in and the language switch;
every form carries a CSRF token (Flask-WTF); pages load scripts, styles and
images from this origin only (``CONTENT_SECURITY_POLICY``), and the check
works without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from registry.errors import IronTraceError, http_status
from registry.web import i18n, session

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

web = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")
csrf = CSRFProtect()


@web.before_request
def _protect_forms() -> None:
    """Every form the web app receives carries the session's CSRF token (the API's bearer keys need none)."""
    if request.method in UNSAFE_METHODS:
        csrf.protect()


@web.before_request
def _act_as_signed_in() -> None:
    """The signed-in person is the request's actor, so the access log names them as it names an API key."""
    if current_user.is_authenticated:
        g.actor = current_user.actor


@web.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # Forms posted over TLS are checked against their Referer (Flask-WTF): send it within this site only.
    response.headers["Referrer-Policy"] = "same-origin"
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


def _error_page(error: IronTraceError) -> tuple[str, int]:
    """A domain error as a page: a refused permission, a missing report, an unreachable store."""
    status = http_status(error)
    return render_template("error.html", status=status, detail=error.detail), status


def _csrf_page(error: CSRFError) -> tuple[str, int]:
    return render_template("error.html", status=400, detail=error.description, expired_form=True), 400


web.register_error_handler(IronTraceError, _error_page)
web.register_error_handler(CSRFError, _csrf_page)


def _register_areas() -> None:
    from registry.web import admin, audit, auth, bulk, check, confirmations, reports

    for area in (auth, check, confirmations, bulk, reports, audit, admin):
        web.register_blueprint(area.blp)


_register_areas()


def install(app: Flask) -> None:
    """Sessions, CSRF protection, page helpers and every page's blueprint."""
    session.configure(app)
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None)  # the token lives as long as the session
    csrf.init_app(app)
    i18n.configure(app)
    app.register_blueprint(web)
