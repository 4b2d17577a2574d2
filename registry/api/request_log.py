"""One log line and one set of metrics per request, tied together by a request id.

The line is the service's access log (``irontrace.request``, JSON through
``registry.logs.JsonFormatter`` under gunicorn): request id, method, path,
endpoint, status, duration, the key id (or the signed-in user, whose pages
set ``g.actor`` too: ``registry.web``) and role that acted, the client
address.  Never a key, a query string or a body: the path and the key id
(which is no secret) are all that is written of what was sent.  A client's
``X-Request-ID`` is kept when it is a plain token, else one is made; the
answer echoes it either way.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from registry.logs import FIELDS
from registry.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS

REQUEST_ID_HEADER = "X-Request-ID"
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "unmatched"  # the endpoint label of paths the app does not serve: no cardinality from scanners
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others count as "other"

log = logging.getLogger("irontrace.request")


def install(app: Flask) -> None:
    """Register first, so every other hook (authentication included) runs with a request id."""
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    HTTP_IN_FLIGHT.inc()
    g.started = time.perf_counter()
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if ACCEPTED_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.request_id
    actor = g.get("actor")
    endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    fields = {
        "request_id": g.request_id, "method": request.method, "path": request.path, "endpoint": endpoint,
        "status": response.status_code, "principal": actor.principal if actor else None,
        "role": actor.role if actor else None, "client": request.remote_addr,
    }
    started = g.started

    def record() -> None:
        """When the answer has been sent (streamed ones included)."""
        elapsed = time.perf_counter() - started
        HTTP_IN_FLIGHT.dec()
        method = fields["method"] if fields["method"] in KNOWN_METHODS else "other"
        HTTP_REQUESTS.labels(method, endpoint, str(fields["status"])).inc()
        HTTP_LATENCY.labels(method, endpoint).observe(elapsed)
        log.info("%s %s %s", fields["method"], fields["path"], fields["status"],
                 extra={FIELDS: {**fields, "duration_ms": round(elapsed * 1000, 1)}})

    response.call_on_close(record)
    return response
