"""The signed webhook channel (Standard Webhooks), for teams whose own CMS publishes.

Each delivery is one JSON event, signed with HMAC-SHA256 over `id.timestamp.body`. The webhook id
is planned once per delivery and saved before the first request, so every retry carries the same
id and the receiver's de-duplication makes retries safe: this channel is idempotent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import netguard
from ..errors import AuthError, ContentRejected, PublishError, TemporaryError
from ..model import Card
from ..records import Delivery, Receipt
from .base import ChannelReport, Progress, Publisher
from .http import wait_hint

SLOW_DOWN = {429, 502, 503, 504}


class WebhookPublisher(Publisher):
    type = "webhook"
    idempotent = True

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        self._guard()
        message_id = progress.once("webhook_id", lambda: f"msg_{uuid.uuid4().hex}")
        body = json.dumps(self._event(delivery), ensure_ascii=False, separators=(",", ":")).encode()
        response = self.api.request("POST", "", data=body, headers=self.headers(message_id, body), create=True)
        if 200 <= response.status_code < 300:
            return Receipt(message_id, _reported_url(response))
        raise self._refusal(response)

    def _event(self, delivery: Delivery) -> dict[str, Any]:
        cards = [self._card(card) for card in delivery.variant.cards]
        return event_body(delivery, cards, event_time(self.services.clock.now()))

    def headers(self, message_id: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))  # the receiver checks it against its own wall clock
        signature = sign(self._key(), message_id, timestamp, body)
        return {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature,
        }

    def verify(self) -> ChannelReport:
        try:
            self._guard()
            self._key()
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc))
        return ChannelReport(self.name, True, f"endpoint {self._endpoint_host()} accepted by the address policy")

    def _card(self, card: Card) -> dict[str, Any]:
        data = self.card_bytes(card)
        return inline_card(card, hashlib.sha256(data).hexdigest(), base64.b64encode(data).decode())

    def _key(self) -> bytes:
        secret = self.secret("secret")
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            key = b""
        if not secret.startswith("whsec_") or not 24 <= len(key) <= 64:
            raise AuthError(self.name, "the webhook secret must be whsec_ followed by base64 of 24 to 64 bytes")
        return key

    def _guard(self) -> None:
        allowed = {str(self.config.options["allow_host"])} if "allow_host" in self.config.options else set()
        reason = netguard.refusal(self.api.base_url, allowed)
        if reason:
            raise AuthError(self.name, f"the webhook endpoint is refused: {reason}")

    def _endpoint_host(self) -> str:
        return urlsplit(self.api.base_url).hostname or "?"

    def _refusal(self, response: requests.Response) -> PublishError:
        status, text = response.status_code, f"the endpoint answered {response.status_code}"
        if status in SLOW_DOWN or status >= 500:
            return TemporaryError(self.name, text, wait_hint(response.headers))
        if status == 410:
            return AuthError(self.name, f"{text} Gone: the endpoint is disabled until someone resumes it")
        if 300 <= status < 400 or status in (401, 403):
            return AuthError(self.name, f"{text}; redirects are not followed and signatures must be accepted")
        return ContentRejected(self.name, text, response.text)


def event_body(delivery: Delivery, cards: Sequence[dict[str, Any]], timestamp: str) -> dict[str, Any]:
    """The post.publish event: the delivery's ids and its variant, with its cards inline (see inline_card)."""
    variant = delivery.variant.to_json() | {"cards": list(cards)}
    data = {"post_id": delivery.post_id, "delivery_id": delivery.id} | variant
    return {"type": "post.publish", "timestamp": timestamp, "data": data}


def inline_card(card: Card, sha256: str, data: str) -> dict[str, Any]:
    """A card as the event carries it: its file name, size and alt text, and its bytes' SHA-256 and base64."""
    return card.to_json() | {"path": card.path.name, "sha256": sha256, "data": data}


def event_time(moment: dt.datetime) -> str:
    """The event's timestamp: ISO 8601 to the second, UTC (the clock's) as Z."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def sign(key: bytes, message_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks signature header value: `v1,` + base64 HMAC-SHA256 of id.timestamp.body."""
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _reported_url(response: requests.Response) -> str | None:
    """A receiver may answer with the URL where it published the post."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("url") if isinstance(body, dict) and isinstance(body.get("url"), str) else None
