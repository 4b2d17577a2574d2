"""The background thread of every long-running process that sends webhook deliveries.

Each round it takes what is due (deliveries this process just stored first,
then any pending one whose time came: another process's, or a retry), sends
each signed the Standard Webhooks way, and stores the outcome; then it marks
the confirmation requests that passed their due time as overdue (which raises
``confirmation.overdue``).  Taking a delivery counts the attempt and sets the
next one *before* sending, so a process killed mid-send leaves the delivery
to be retried at that time by any process: at least once, under a stable id.
Retries back off exponentially (``WEBHOOK_RETRY_BASE_SECONDS`` doubling up to
``WEBHOOK_RETRY_MAX_SECONDS``) until ``WEBHOOK_RETRY_HOURS`` have passed.
Time is the configured clock (``registry.stamps.clock_from``); the signature's
timestamp is the real time of sending, which receivers hold to their own clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
from collections.abc import Callable
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook as Signer

from registry.errors import NotFound
from registry.records import Delivery, Webhook
from registry.services.periodic import PeriodicTask
from registry.services.webhooks import private_destination
from registry.stamps import Clock, iso_at
from registry.storage.interfaces import WebhookStore

log = logging.getLogger(__name__)

BATCH = 20  # deliveries taken per round
USER_AGENT = "IronTrace-Webhooks/1"


def signed_headers(webhook: Webhook, delivery: Delivery, sent_at: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: ``webhook-id`` (stable), ``webhook-timestamp`` and
    ``webhook-signature`` (``v1,`` and base64 HMAC-SHA256 of ``id.timestamp.body``)."""
    return {
        "webhook-id": delivery["id"],
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Signer(webhook["secret"]).sign(delivery["id"], sent_at, delivery["body"]),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


class Deliverer(PeriodicTask):
    thread_name = "irontrace-webhooks"

    def __init__(self, store: WebhookStore, handoff: queue.SimpleQueue[str], clock: Clock, settings: dict[str, Any],
                 sweep: Callable[[float], int] | None = None) -> None:
        super().__init__(settings["WEBHOOK_POLL_SECONDS"])
        self.store = store
        self.handoff = handoff
        self.clock = clock
        self.sweep = sweep
        self.timeout: float = settings["WEBHOOK_TIMEOUT_SECONDS"]
        self.base: float = settings["WEBHOOK_RETRY_BASE_SECONDS"]
        self.ceiling: float = settings["WEBHOOK_RETRY_MAX_SECONDS"]
        self.allow_private: bool = settings["WEBHOOK_ALLOW_PRIVATE"]
        self.http = requests.Session()

    def backoff(self, attempts: int) -> float:
        """Seconds between attempt ``attempts`` and the next."""
        return float(min(self.base * 2 ** (attempts - 1), self.ceiling))

    def run_once(self) -> int:
        """One round; how many deliveries were attempted."""
        named = []
        while True:
            try:
                named.append(self.handoff.get_nowait())
            except queue.Empty:
                break
        now = self.clock()
        taken = self.store.claim(named, now, BATCH, lambda d: self._attempt(d, now))
        hooks: dict[str, Webhook | None] = {}
        for delivery in taken:
            if delivery["webhook_id"] not in hooks:
                hooks[delivery["webhook_id"]] = self._webhook(delivery["webhook_id"])
            self._send(hooks[delivery["webhook_id"]], delivery, now)
        if self.sweep is not None:
            self.sweep(now)
        return len(taken)

    def _attempt(self, delivery: Delivery, now: float) -> Delivery:
        attempts = delivery["attempts"] + 1
        return {**delivery, "attempts": attempts, "next_attempt": now + self.backoff(attempts),
                "last_attempt_at": iso_at(now)}

    def _webhook(self, webhook_id: str) -> Webhook | None:
        try:
            webhook = self.store.get(webhook_id)
        except NotFound:
            return None
        return None if webhook.get("deleted_at") else webhook

    def _send(self, webhook: Webhook | None, delivery: Delivery, now: float) -> None:
        if webhook is None:
            self.store.update_delivery({**delivery, "status": "failed", "last_response": "webhook deleted"})
            return
        refused = None if self.allow_private else private_destination(webhook["url"])
        if refused:
            outcome, delivered = f"refused: {refused}", False
        else:
            outcome, delivered = self._post(webhook, delivery)
        if delivered:
            self.store.update_delivery({**delivery, "status": "delivered", "delivered_at": iso_at(now),
                                        "last_response": outcome})
        else:
            failed = now >= delivery["retry_until"]
            self.store.update_delivery({**delivery, "status": "failed" if failed else "pending",
                                        "last_response": outcome})

    def _post(self, webhook: Webhook, delivery: Delivery) -> tuple[str, bool]:
        """One signed attempt: what the receiver answered (or how it failed), and whether it took it."""
        try:
            answer = self.http.post(webhook["url"], data=delivery["body"].encode(), timeout=self.timeout,
                                    headers=signed_headers(webhook, delivery, dt.datetime.now(dt.UTC)),
                                    allow_redirects=False)
        except requests.RequestException as exc:
            return type(exc).__name__, False
        return f"{answer.status_code}", 200 <= answer.status_code < 300

