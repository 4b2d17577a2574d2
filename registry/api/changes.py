"""/v1/changes: the change feed replicas at border posts follow, and the checks they answered offline."""

from __future__ import annotations

from flask import request, send_file
from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.changes import (
    ChangesArgsSchema,
    ChangesPageSchema,
    ForwardedChecksSchema,
    ForwardedOutcomeSchema,
)
from registry.api.security import current_actor

blp = Blueprint("changes", __name__, url_prefix="/v1/changes", description="Change feed and replicas (replica, admin)")


@blp.route("")
class Changes(MethodView):
    @blp.doc(operationId="readChanges")
    @blp.arguments(ChangesArgsSchema, location="query")
    @blp.response(200, ChangesPageSchema, example=examples.CHANGES_PAGE)
    def get(self, args: dict):
        """Report writes after `after`, in commit order: upserts of active reports, removals of the rest.
        Resuming from `next` never misses a write and never repeats one."""
        return services().changes.read(current_actor(), args.get("after"), args["limit"])


SNAPSHOT_TYPE = "application/vnd.sqlite3"


@blp.route("/snapshot")
class Snapshot(MethodView):
    @blp.doc(operationId="readSnapshot")
    @blp.response(200, {"type": "string", "format": "binary"}, content_type=SNAPSHOT_TYPE,
                  description="An embedded registry holding the active reports and their index rows, as of the "
                              "feed position it records")
    @blp.alt_response(206, description="The rest of the same snapshot, from the `Range` asked for (with "
                                       "`If-Range` naming its `ETag`: another snapshot is sent whole)")
    @blp.alt_response(404, description="The centre's engine makes no snapshot files: copy through the feed")
    def get(self):
        """What a new replica starts from, then follows the feed from: much faster than copying a large
        registry through the feed, since the index is sent as computed. Resumable with `Range`."""
        ranges = request.range.ranges if request.range else []
        snapshot = services().changes.snapshot(current_actor(), ranges[0][0] if ranges else 0)
        return send_file(snapshot.path, mimetype=SNAPSHOT_TYPE, conditional=True, etag=snapshot.name,
                         download_name=f"irontrace-snapshot-{snapshot.name}.db")


@blp.route("/checks")
class ForwardedChecks(MethodView):
    @blp.doc(operationId="forwardChecks")
    @blp.arguments(ForwardedChecksSchema, example=examples.FORWARDED_CHECKS)
    @blp.response(200, ForwardedOutcomeSchema, example=examples.FORWARDED_OUTCOME)
    def post(self, data: dict):
        """Checks a replica answered, into the centre's log once each (by check id), with the same
        notifications as a check made here."""
        return services().checks.record_forwarded(current_actor(), data["checks"])
