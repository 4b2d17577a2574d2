"""/v1/keys: API keys, managed by admins.  A new key is shown once, in the creation answer."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.keys import KeyCreatedSchema, KeyCreateSchema, KeyListSchema, KeySchema
from registry.api.security import current_actor

blp = Blueprint("keys", __name__, url_prefix="/v1/keys", description="API keys (admin)")


@blp.route("")
class Keys(MethodView):
    @blp.response(200, KeyListSchema)
    def get(self):
        """Every key with its role, agency, expiry and state; never the key itself."""
        return {"items": services().keys.list(current_actor())}

    @blp.arguments(KeyCreateSchema)
    @blp.response(201, KeyCreatedSchema)
    def post(self, data: dict):
        """Issue a key.  The answer holds the key; it cannot be shown again."""
        key, record = services().keys.create(current_actor(), **data)
        return {**record, "key": key}, 201, {"Location": url_for("keys.Key", key_id=record["key_id"])}


@blp.route("/<key_id>")
class Key(MethodView):
    @blp.response(200, KeySchema)
    def delete(self, key_id: str):
        """Revoke a key: it stops working at once.  The record stays, for the audit log."""
        return services().keys.revoke(current_actor(), key_id)
