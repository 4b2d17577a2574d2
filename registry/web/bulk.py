"""Bulk checks from the browser: upload a file, follow the job live, list earlier jobs, download results."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from werkzeug.exceptions import RequestEntityTooLarge

from registry.errors import IronTraceError
from registry.files.results import csv_lines
from registry.files.tables import detect_format
from registry.services.bulk import job_view
from registry.web.forms import ActionForm, UploadForm
from registry.web.session import services, signed_in_actor, viewed

blp = Blueprint("bulk", __name__, url_prefix="/bulk")
JOBS_LISTED = 20
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@blp.route("", methods=["GET", "POST"])
@login_required
def jobs() -> ResponseReturnValue:
    """The upload form and the reader's own earlier jobs."""
    bulk = services().bulk
    request.max_content_length = bulk.settings.max_bytes + MULTIPART_OVERHEAD_BYTES
    error, form = None, None
    try:
        form = UploadForm()
        if form.validate_on_submit():
            upload = form.file.data  # werkzeug keeps the file in a seekable spool (on disk when large)
            name = upload.filename
            job = bulk.submit(signed_in_actor(), upload.stream, detect_format(upload.stream, name, upload.mimetype),
                              name)
            return redirect(url_for("web.bulk.job", job_id=job["id"]))
    except RequestEntityTooLarge:
        error = bulk.too_large().detail
    except IronTraceError as refused:
        error = refused.detail
    form = form or UploadForm(formdata=None)
    listed = [job_view(job, time.time()) for job in bulk.list(signed_in_actor(), JOBS_LISTED).items]
    viewed(jobs=len(listed))
    status = 400 if error or form.errors else 200
    return render_template("bulk.html", form=form, jobs=listed, error=error), status


@blp.route("/<job_id>")
@login_required
def job(job_id: str) -> ResponseReturnValue:
    found = job_view(services().bulk.get(signed_in_actor(), job_id), time.time())
    viewed(job_id)
    return render_template("bulk_job.html", job=found, cancel=ActionForm())


@blp.route("/<job_id>/progress")
@login_required
def progress(job_id: str) -> dict[str, Any]:
    """What the job page's script polls: status, rows done, counts, ETA (counts only, no row data)."""
    found = job_view(services().bulk.get(signed_in_actor(), job_id), time.time())
    return {name: found.get(name) for name in ("status", "rows_total", "rows_done", "hits", "possible_matches",
                                               "similar_serials", "no_matches", "errors", "eta_seconds")}


@blp.route("/<job_id>/results.csv")
@login_required
def results(job_id: str) -> Response:
    found, rows = services().bulk.results(signed_in_actor(), job_id)
    viewed(job_id, rows_done=found["rows_done"])
    lines = csv_lines(rows, found["columns"], found.get("delimiter", ","))  # Excel opens it as it opened the upload
    response = Response(stream_with_context(lines), mimetype="text/csv", content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="bulk-check-{job_id}.csv"'
    return response


@blp.route("/<job_id>/cancel", methods=["POST"])
@login_required
def cancel(job_id: str) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        try:
            services().bulk.cancel(signed_in_actor(), job_id)
        except IronTraceError as refused:
            if refused.extra.get("job_status") is None:
                raise
    return redirect(url_for("web.bulk.job", job_id=job_id))
