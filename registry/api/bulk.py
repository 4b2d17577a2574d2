"""/v1/bulk-checks and /v1/checks/bulk: whole inventories and manifests, row by row."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import NotAcceptable, RequestEntityTooLarge

from registry.api.extension import services
from registry.api.schemas.bulk import BulkCheckResultSchema, BulkJobSchema
from registry.api.security import current_actor
from registry.errors import InvalidRequest
from registry.files.results import csv_lines, ndjson_lines
from registry.files.uploads import detect_upload_format
from registry.services.bulk import SYNC_MAX_ROWS, job_view, tally

blp = Blueprint("bulk", __name__, url_prefix="/v1", description="Check a whole file of identifiers")

UPLOAD_FIELD = "file"
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the file itself
CSV_TYPE, NDJSON_TYPE, JSON_TYPE = "text/csv", "application/x-ndjson", "application/json"
UPLOAD_DOC = {
    "required": True,
    "description": f"CSV, NDJSON or a JSON array: multipart/form-data with the file in the field "
                   f"`{UPLOAD_FIELD}`, or the file itself as the body with its content type.",
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": [UPLOAD_FIELD], "properties": {
            UPLOAD_FIELD: {"type": "string", "format": "binary"}}}},
        CSV_TYPE: {"schema": {"type": "string"}},
        NDJSON_TYPE: {"schema": {"type": "string"}},
        JSON_TYPE: {"schema": {"type": "array", "items": {"type": "object"}}},
    },
}
TOO_LARGE_DOC = "Over the size or row limit; the problem's `limit` and `unit` say which"


def uploaded() -> tuple[bytes, str, str | None]:
    """The uploaded file, its format and name: a multipart ``file`` field, or the raw body."""
    bulk = services().bulk
    limit = bulk.settings.max_bytes + MULTIPART_OVERHEAD_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise bulk.too_large()
    request.max_content_length = limit  # a body sent without a length is cut off here
    try:
        if request.mimetype == "multipart/form-data":
            upload = request.files.get(UPLOAD_FIELD)
            if upload is None:
                raise InvalidRequest(f"Send the file in the multipart field {UPLOAD_FIELD!r}.")
            data, name, content_type = upload.read(), upload.filename, upload.mimetype
        else:
            data, name, content_type = request.get_data(), None, request.mimetype
    except RequestEntityTooLarge as exc:
        raise bulk.too_large() from exc
    return data, detect_upload_format(content_type, name, data), name


def streamed(results: Iterable[dict], columns: list[str], media_type: str, name: str) -> Response:
    """Results as CSV or NDJSON, written while they are read."""
    lines: Iterator[str] = csv_lines(results, columns) if media_type == CSV_TYPE else ndjson_lines(results)
    response = Response(stream_with_context(lines), mimetype=media_type)
    if media_type == CSV_TYPE:
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def negotiated(offered: list[str]) -> str:
    media_type = request.accept_mimetypes.best_match(offered)
    if media_type is None:
        raise NotAcceptable(f"Results are available as {', '.join(offered)}.")
    return media_type


@blp.route("/bulk-checks")
class BulkChecks(MethodView):
    @blp.doc(requestBody=UPLOAD_DOC)
    @blp.response(202, BulkJobSchema)
    @blp.alt_response(413, description=TOO_LARGE_DOC)
    def post(self):
        """Queue a check of every row of a file; follow Location for progress."""
        data, file_format, name = uploaded()
        job = services().bulk.submit(current_actor(), data, file_format, name)
        location = url_for("bulk.BulkCheck", job_id=job["id"])
        return job_view(job, time.time()), 202, {"Location": location}


@blp.route("/bulk-checks/<job_id>")
class BulkCheck(MethodView):
    @blp.response(200, BulkJobSchema)
    def get(self, job_id: str):
        """Status, counts so far and, while running, an ETA."""
        return job_view(services().bulk.get(current_actor(), job_id), time.time())

    @blp.response(200, BulkJobSchema)
    @blp.alt_response(409, description="The job already finished")
    def delete(self, job_id: str):
        """Cancel a queued or running job; rows already checked keep their results."""
        return job_view(services().bulk.cancel(current_actor(), job_id), time.time())


@blp.route("/bulk-checks/<job_id>/results")
class BulkCheckResults(MethodView):
    @blp.doc(responses={"200": {"description": "Every row checked so far, in input order, streamed", "content": {
        CSV_TYPE: {"schema": {"type": "string"}}, NDJSON_TYPE: {"schema": {"type": "string"}}}}})
    def get(self, job_id: str):
        """Each row with its verdict, best match, score and explanation: CSV or NDJSON by Accept."""
        media_type = negotiated([CSV_TYPE, NDJSON_TYPE])
        job, results = services().bulk.results(current_actor(), job_id)
        return streamed(results, job["columns"], media_type, f"bulk-check-{job_id}")


@blp.route("/checks/bulk")
class BulkCheckNow(MethodView):
    @blp.doc(requestBody=UPLOAD_DOC)
    @blp.response(200, BulkCheckResultSchema)
    @blp.alt_response(413, description=f"{TOO_LARGE_DOC} (at most {SYNC_MAX_ROWS} rows here)")
    def post(self):
        """Check a small file at once (up to 1,000 rows): JSON, or CSV or NDJSON by Accept."""
        data, file_format, _ = uploaded()
        media_type = negotiated([JSON_TYPE, CSV_TYPE, NDJSON_TYPE])
        upload, results = services().bulk.check_now(current_actor(), data, file_format)
        if media_type != JSON_TYPE:
            return streamed(results, upload.columns, media_type, "bulk-check")
        return {"rows_total": len(results), **tally(results), "results": results}
