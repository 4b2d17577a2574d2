"""/v1/webhooks: where events are sent, their delivery log, and redelivery."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.common import PageArgsSchema
from registry.api.schemas.hits import (
    DeliveryPageSchema,
    DeliverySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookListSchema,
    WebhookSchema,
)
from registry.api.security import current_actor
from registry.services.webhooks import delivery_view

blp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks", description="Events sent to your receivers")


@blp.route("")
class Webhooks(MethodView):
    @blp.doc(operationId="listWebhooks")
    @blp.response(200, WebhookListSchema, example=examples.WEBHOOK_LIST)
    def get(self):
        """Your webhooks (an admin's: every one); never their secrets."""
        return {"items": services().webhooks.list(current_actor())}

    @blp.doc(operationId="createWebhook")
    @blp.arguments(WebhookCreateSchema, example=examples.WEBHOOK_CREATE)
    @blp.response(201, WebhookCreatedSchema, example=examples.WEBHOOK_CREATED, headers={
        "Location": {"description": "The webhook's delivery log", "schema": {"type": "string"}}})
    def post(self, data: dict):
        """Register a webhook.  The answer holds its signing secret; it cannot be shown again."""
        webhook = services().webhooks.create(current_actor(), **data)
        return webhook, 201, {"Location": url_for("webhooks.Deliveries", webhook_id=webhook["id"])}


@blp.route("/<webhook_id>")
class Webhook(MethodView):
    @blp.doc(operationId="deleteWebhook")
    @blp.response(200, WebhookSchema, example=examples.WEBHOOK_DELETED)
    def delete(self, webhook_id: str):
        """Stop sending to a webhook; its delivery log stays."""
        return services().webhooks.delete(current_actor(), webhook_id)


@blp.route("/<webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.doc(operationId="listDeliveries")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, DeliveryPageSchema, example=examples.DELIVERY_PAGE)
    def get(self, args: dict, webhook_id: str):
        """The webhook's deliveries, newest first: each attempt's outcome and the next one's time."""
        page = services().webhooks.deliveries(current_actor(), webhook_id, args["limit"], args.get("cursor"))
        return {"items": [delivery_view(d) for d in page.items], "next_cursor": page.next_cursor}


@blp.route("/<webhook_id>/deliveries/<delivery_id>/redeliver")
class Redelivery(MethodView):
    @blp.doc(operationId="redeliver")
    @blp.response(202, DeliverySchema, example=examples.DELIVERY_REDELIVERED)
    def post(self, webhook_id: str, delivery_id: str):
        """Send a delivery again now, under the same webhook-id (delivered or failed ones too)."""
        return delivery_view(services().webhooks.redeliver(current_actor(), webhook_id, delivery_id)), 202
