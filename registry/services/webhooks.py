"""Webhooks: who wants which events, and the deliveries an event makes.

An event is addressed to an *audience*: agencies (by ``name_key``) and
principals.  A webhook receives it when it asked for the event type and its
owner is in the audience (an agency key or account of one of the agencies,
the principal itself) or is an admin, whose rights cover every event.  So an
agency learns of checks that matched its own reports, and a checker of the
answers to its own requests, never more.

The service never sends anything: ``deliveries_for`` makes the outbox rows
that the write raising the event stores with itself (``registry.storage``),
and ``registry.services.deliverer`` sends them later.  Ids made here are the
``webhook-id`` of every attempt (receivers drop repeats by it).
"""

from __future__ import annotations

import base64
import builtins
import ipaddress
import json
import queue
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from registry.access import ADMIN, AGENCY, DEALER, WEBHOOKS, Actor
from registry.errors import InvalidRequest, NotFound
from registry.records import ActorRecord, Delivery, Page, Webhook, name_key
from registry.services.audit import AuditService
from registry.stamps import Clock, iso_at, new_id
from registry.storage.interfaces import WebhookStore
from registry.vocabulary import WEBHOOK_EVENTS

SECRET_PREFIX = "whsec_"  # Standard Webhooks: the secret is ``whsec_`` and base64 of its bytes
SECRET_BYTES = 32


@dataclass(frozen=True)
class Audience:
    """Who may receive an event: the owners of reports it concerns, and principals it concerns."""

    agencies: frozenset[str] = frozenset()  # name keys
    principals: frozenset[str] = frozenset()

    @classmethod
    def of(cls, agencies: Iterable[str] = (), principals: Iterable[str] = ()) -> Audience:
        return cls(frozenset(name_key(a) for a in agencies), frozenset(principals))

    def includes(self, owner: ActorRecord) -> bool:
        if owner["role"] == ADMIN or owner["principal"] in self.principals:
            return True
        return owner["role"] == AGENCY and name_key(owner["agency"] or "") in self.agencies


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class WebhookService:
    def __init__(self, store: WebhookStore, audit: AuditService, clock: Clock, settings: dict[str, Any]) -> None:
        self.store = store
        self.audit = audit
        self.clock = clock
        self.retry_seconds = settings["WEBHOOK_RETRY_HOURS"] * 3600
        self.allow_private: bool = settings["WEBHOOK_ALLOW_PRIVATE"]
        self.handoff: queue.SimpleQueue[str] = queue.SimpleQueue()  # deliveries this process just stored

    def create(self, actor: Actor, url: str, events: Sequence[str], secret: str | None = None) -> Webhook:
        """Register a webhook; the answer holds its secret (made here unless given), shown this once."""
        actor.require(WEBHOOKS)
        _require_url(url)
        if not self.allow_private and (refused := private_destination(url)):
            raise InvalidRequest(f"A webhook's url must reach a public address: {refused} "
                                 f"(IRONTRACE_WEBHOOK_ALLOW_PRIVATE allows it).")
        if secret is not None:
            _require_secret(secret)
        webhook: Webhook = {"id": new_id(), "owner": actor.as_record(), "url": url,
                            "events": sorted(set(events), key=WEBHOOK_EVENTS.index), "secret": secret or new_secret(),
                            "created_at": iso_at(self.clock()), "deleted_at": None}
        details = {k: v for k, v in webhook.items() if k != "secret"}
        self.store.create(webhook, self.audit.entry(actor, "webhook.create", webhook["id"], details))
        return webhook

    def list(self, actor: Actor) -> list[Webhook]:
        """The actor's own webhooks (an admin's: every one)."""
        actor.require(WEBHOOKS)
        return self.store.list(None if actor.role == ADMIN else actor.principal)

    def get(self, actor: Actor, webhook_id: str) -> Webhook:
        """A webhook of the actor's (admins: any); to anyone else it does not exist."""
        try:
            webhook = self.store.get(webhook_id)
        except NotFound:
            webhook = None
        if webhook is None or webhook.get("deleted_at") or not actor.owns(webhook["owner"]):
            raise NotFound(f"No webhook with id {webhook_id}.")
        return webhook

    def delete(self, actor: Actor, webhook_id: str) -> Webhook:
        """Stop sending to a webhook; its deliveries stay in its log (pending ones are not sent)."""
        webhook: Webhook = {**self.get(actor, webhook_id), "deleted_at": iso_at(self.clock())}
        self.store.replace(webhook, self.audit.entry(actor, "webhook.delete", webhook_id, {"url": webhook["url"]}))
        return webhook

    def deliveries(self, actor: Actor, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        self.get(actor, webhook_id)
        return self.store.deliveries(webhook_id, limit, cursor)

    def redeliver(self, actor: Actor, webhook_id: str, delivery_id: str) -> Delivery:
        """Send a delivery again, under the same id, from now on as if new (the retry period restarts)."""
        self.get(actor, webhook_id)
        delivery = self.store.get_delivery(delivery_id)
        if delivery["webhook_id"] != webhook_id:
            raise NotFound(f"No delivery with id {delivery_id}.")
        now = self.clock()
        reset: Delivery = {**delivery, "status": "pending", "next_attempt": now,
                           "retry_until": now + self.retry_seconds}
        self.store.update_delivery(reset, self.audit.entry(actor, "webhook.redeliver", delivery_id,
                                                           {"webhook_id": webhook_id, "type": delivery["type"]}))
        self.handoff.put(delivery_id)
        return reset

    def deliveries_for(self, event: str, audience: Audience, data: dict[str, Any],
                       hidden_from_dealers: Sequence[str] = ()) -> builtins.list[Delivery]:
        """The outbox rows of one event: one per webhook that asked for it and may receive it; a
        dealer's webhook gets ``data`` without ``hidden_from_dealers``."""
        return self.deliveries_for_each(event, [(audience, data)], hidden_from_dealers)

    def deliveries_for_each(self, event: str, addressed: Sequence[tuple[Audience, dict[str, Any]]],
                            hidden_from_dealers: Sequence[str] = ()) -> builtins.list[Delivery]:
        """The outbox rows of several events of one type, each (audience, data) an event of its own,
        from one read of the webhooks that asked for the type: a check that matched the reports of
        five agencies raises five events, and on Elasticsearch each read is a search."""
        subscribed = self.store.subscribed(event) if addressed else []
        if not subscribed:
            return []
        now = self.clock()
        deliveries: builtins.list[Delivery] = []
        for audience, data in addressed:
            event_id = new_id()
            for hook in subscribed:
                if audience.includes(hook["owner"]):
                    shown = {k: v for k, v in data.items()
                             if hook["owner"]["role"] != DEALER or k not in hidden_from_dealers}
                    body = json.dumps({"type": event, "timestamp": iso_at(now),
                                       "data": {"event_id": event_id, **shown}},
                                      ensure_ascii=False, separators=(",", ":"))
                    deliveries.append({
                        "id": new_id(), "webhook_id": hook["id"], "type": event, "body": body, "status": "pending",
                        "attempts": 0, "created_at": iso_at(now), "next_attempt": now,
                        "retry_until": now + self.retry_seconds, "last_attempt_at": None, "last_response": None,
                        "delivered_at": None})
        return deliveries

    def stored(self, deliveries: Sequence[Delivery]) -> None:
        """Hand deliveries their write just stored to this process's deliverer, to be sent at once."""
        for delivery in deliveries:
            self.handoff.put(delivery["id"])

    def emit(self, event: str, audience: Audience, data: dict[str, Any]) -> None:
        """Store and send an event that records no write of its own."""
        deliveries = self.deliveries_for(event, audience, data)
        self.store.add_deliveries(deliveries)
        self.stored(deliveries)


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    """A delivery as its log shows it: times as timestamps, the next attempt's only while pending."""
    shown: dict[str, Any] = {k: v for k, v in delivery.items() if k not in ("next_attempt", "retry_until")}
    shown["next_attempt_at"] = iso_at(delivery["next_attempt"]) if delivery["status"] == "pending" else None
    return shown


def private_destination(url: str) -> str | None:
    """Why ``url`` must not be called from the registry's network (its host resolves to a loopback,
    private, link-local, shared, reserved or multicast address, or not at all), or ``None``.  Asked
    when a webhook is made and again before each delivery, so a name that later resolves inward (DNS
    rebinding) is refused then."""
    host = urlsplit(url).hostname or ""
    try:
        resolved = {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return f"{host} does not resolve"
    for text in sorted(resolved):
        address = ipaddress.ip_address(text.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            return f"{host} resolves to {address}, which is not a public address"
    return None


def _require_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname if parts.port is None or parts.port > 0 else None
    except ValueError:  # a malformed IPv6 literal, a port out of range
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise InvalidRequest(f"A webhook's url must be an http or https URL with a host; got {url!r}.")


def _require_secret(secret: str) -> None:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of at least 24 bytes."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        key = b""
    if not secret.startswith(SECRET_PREFIX) or len(key) < 24:
        raise InvalidRequest("A webhook secret is 'whsec_' followed by the base64 of at least 24 random bytes; "
                             "leave it out to have one made.")
