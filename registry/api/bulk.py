"""/v1/bulk-checks and /v1/checks/bulk: whole inventories and manifests, row by row."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from flask import Response, request, stream_with_context, url_for
from flask.views import MethodView
from werkzeug.exceptions import NotAcceptable, RequestEntityTooLarge

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.bulk import BulkCheckResultSchema, BulkJobPageSchema, BulkJobSchema
from registry.api.schemas.common import PageArgsSchema
from registry.api.security import current_actor
from registry.errors import InvalidRequest
from registry.files.results import XLSX_MAX_ROWS, csv_lines, file_chunks, ndjson_lines, spooled_xlsx
from registry.files.tables import XLSX_CONTENT_TYPE, detect_format
from registry.services.bulk import SYNC_MAX_ROWS, job_view, tally

blp = Blueprint("bulk", __name__, url_prefix="/v1", description="Check a whole file of identifiers")

UPLOAD_FIELD = "file"
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the file itself
SPOOL_MEMORY_BYTES = 1024 * 1024  # a raw body is kept in memory up to this size, on disk past it
COPY_CHUNK_BYTES = 64 * 1024
STREAM_CHUNK_BYTES = 64 * 1024
CSV_TYPE, NDJSON_TYPE, JSON_TYPE = "text/csv", "application/x-ndjson", "application/json"
UPLOAD_DOC = {
    "required": True,
    "description": f"CSV, NDJSON, a JSON array or an Excel workbook (.xlsx): multipart/form-data with the file "
                   f"in the field `{UPLOAD_FIELD}`, or the file itself as the body with its content type.",
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": [UPLOAD_FIELD], "properties": {
            UPLOAD_FIELD: {"type": "string", "format": "binary"}}}},
        CSV_TYPE: {"schema": {"type": "string"}, "example": "serial,lot\nKMTPC300C55A17044,17\n"},
        NDJSON_TYPE: {"schema": {"type": "string"}, "example": '{"serial": "KMTPC300C55A17044", "lot": "17"}\n'},
        JSON_TYPE: {"schema": {"type": "array", "items": {"type": "object"}},
                    "example": [{"serial": "KMTPC300C55A17044", "lot": "17"}]},
        XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
    },
}
TOO_LARGE_DOC = ("Over the size, row or column limit, or a line over 131072 characters; the problem's `limit` and "
                 "`unit` say which")
UNSUPPORTED_DOC = "The file is none of CSV, NDJSON, JSON or an Excel workbook (.xlsx)"
NO_IDENTIFIER_DOC = "No column names an identifier; `recognized_headers` lists the names understood, by field"


@contextmanager
def uploaded() -> Iterator[tuple[IO[bytes], str, str | None]]:
    """The uploaded file (seekable, spooled to disk when large), its format and name: a multipart
    ``file`` field, or the raw body."""
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
            file, name, content_type = upload.stream, upload.filename, upload.mimetype
        else:
            file, name, content_type = _spooled(request.stream, bulk.settings.max_bytes), None, request.mimetype
    except RequestEntityTooLarge as exc:
        raise bulk.too_large() from exc
    try:
        yield file, detect_format(file, name, content_type), name
    finally:
        file.close()


def _spooled(body: IO[bytes], limit: int) -> IO[bytes]:
    """A request body copied into a temporary file, refused past ``limit`` bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - the caller closes it
    size = 0
    while chunk := body.read(COPY_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            spool.close()
            raise services().bulk.too_large()
        spool.write(chunk)
    spool.seek(0)
    return spool


def streamed(results: Iterable[dict], columns: list[str], media_type: str, name: str, delimiter: str) -> Response:
    """Results as CSV (BOM and the upload's delimiter, for Excel), NDJSON or an Excel workbook."""
    if media_type == XLSX_CONTENT_TYPE:
        return _workbook(results, columns, name)
    if media_type == CSV_TYPE:
        response = Response(stream_with_context(csv_lines(results, columns, delimiter)),
                            mimetype=CSV_TYPE, content_type=f"{CSV_TYPE}; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    return Response(stream_with_context(ndjson_lines(results)), mimetype=media_type)


def _workbook(results: Iterable[dict], columns: list[str], name: str) -> Response:
    workbook, size = spooled_xlsx(results, columns)
    response = Response(file_chunks(workbook, STREAM_CHUNK_BYTES), mimetype=XLSX_CONTENT_TYPE)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def negotiated(offered: list[str]) -> str:
    """The media type the client accepts, the first offered when it does not say (no Accept)."""
    if not request.accept_mimetypes:
        return offered[0]
    media_type = request.accept_mimetypes.best_match(offered)
    if media_type is None:
        raise NotAcceptable(f"Results are available as {', '.join(offered)}.")
    return media_type


RESULTS_CONTENT: dict[str, Any] = {
    CSV_TYPE: {"schema": {"type": "string"}, "example": examples.RESULTS_CSV},
    NDJSON_TYPE: {"schema": {"type": "string"}, "example": json.dumps(examples.ROW_RESULT) + "\n"},
    XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}},
}


@blp.route("/bulk-checks")
class BulkChecks(MethodView):
    accepts_files = True

    @blp.doc(operationId="listBulkChecks")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, BulkJobPageSchema, example=examples.JOB_PAGE)
    def get(self, args: dict):
        """The caller's bulk checks, newest first."""
        page = services().bulk.list(current_actor(), args["limit"], args.get("cursor"))
        now = time.time()
        return {"items": [job_view(job, now) for job in page.items], "next_cursor": page.next_cursor}

    @blp.doc(operationId="submitBulkCheck", requestBody=UPLOAD_DOC)
    @blp.response(202, BulkJobSchema, example={**examples.JOB, "status": "queued", "started_at": None,
                                               "rows_done": 0, "hits": 0, "possible_matches": 0, "similar_serials": 0,
                                               "no_matches": 0, "errors": 0, "eta_seconds": None})
    @blp.alt_response(413, description=TOO_LARGE_DOC)
    @blp.alt_response(415, description=UNSUPPORTED_DOC)
    @blp.alt_response(422, description=NO_IDENTIFIER_DOC)
    def post(self):
        """Queue a check of every row of a file; follow Location for progress."""
        with uploaded() as (file, file_format, name):
            job = services().bulk.submit(current_actor(), file, file_format, name)
        location = url_for("bulk.BulkCheck", job_id=job["id"])
        return job_view(job, time.time()), 202, {"Location": location}


@blp.route("/bulk-checks/<job_id>")
class BulkCheck(MethodView):
    @blp.doc(operationId="getBulkCheck")
    @blp.response(200, BulkJobSchema, example=examples.JOB)
    def get(self, job_id: str):
        """Status (``stalled`` while nobody renews its lease), counts so far and, while running, an ETA."""
        return job_view(services().bulk.get(current_actor(), job_id), time.time())

    @blp.doc(operationId="cancelBulkCheck")
    @blp.response(200, BulkJobSchema, example={**examples.JOB, "status": "cancelled", "eta_seconds": None,
                                               "finished_at": "2026-11-25T16:02:40.002Z"})
    @blp.alt_response(409, description="The job already finished")
    def delete(self, job_id: str):
        """Cancel a queued or running job; rows already checked keep their results."""
        return job_view(services().bulk.cancel(current_actor(), job_id), time.time())


@blp.route("/bulk-checks/<job_id>/results")
class BulkCheckResults(MethodView):
    @blp.doc(operationId="getBulkCheckResults", responses={"200": {
        "description": "Every row checked so far, in input order: CSV (UTF-8 with BOM, the upload's delimiter) or "
                       "NDJSON streamed, or an Excel workbook", "content": RESULTS_CONTENT}})
    @blp.alt_response(406, description=f"Accept names none of CSV, NDJSON and .xlsx, or .xlsx for over "
                                       f"{XLSX_MAX_ROWS} rows")
    def get(self, job_id: str):
        """Each row with its verdict, best match, score and explanation: CSV, NDJSON or .xlsx by Accept."""
        media_type = negotiated([CSV_TYPE, NDJSON_TYPE, XLSX_CONTENT_TYPE])
        job, results = services().bulk.results(current_actor(), job_id)
        if media_type == XLSX_CONTENT_TYPE and job["rows_done"] > XLSX_MAX_ROWS:
            raise NotAcceptable(f"A workbook holds {XLSX_MAX_ROWS} rows; ask for CSV or NDJSON for {job['rows_done']}.")
        return streamed(results, job["columns"], media_type, f"bulk-check-{job_id}", job.get("delimiter", ","))


@blp.route("/checks/bulk")
class BulkCheckNow(MethodView):
    accepts_files = True

    @blp.doc(operationId="checkFile", requestBody=UPLOAD_DOC, responses={"200": {
        "description": "Every row answered", "content": {
            JSON_TYPE: {"schema": BulkCheckResultSchema, "example": examples.SYNC_RESULT}, **RESULTS_CONTENT}}})
    @blp.response(200, BulkCheckResultSchema, example=examples.SYNC_RESULT)
    @blp.alt_response(406, description="Accept names none of JSON, CSV, NDJSON and .xlsx")
    @blp.alt_response(413, description=f"{TOO_LARGE_DOC} (at most {SYNC_MAX_ROWS} rows here)")
    @blp.alt_response(415, description=UNSUPPORTED_DOC)
    @blp.alt_response(422, description=NO_IDENTIFIER_DOC)
    def post(self):
        """Check a small file at once (up to 1,000 rows): JSON, or CSV, NDJSON or .xlsx by Accept."""
        media_type = negotiated([JSON_TYPE, CSV_TYPE, NDJSON_TYPE, XLSX_CONTENT_TYPE])
        with uploaded() as (file, file_format, _):
            upload, results = services().bulk.check_now(current_actor(), file, file_format)
        if media_type != JSON_TYPE:
            return streamed(results, upload.columns, media_type, "bulk-check", upload.delimiter)
        return {"rows_total": len(results), **tally(results), "results": results}
