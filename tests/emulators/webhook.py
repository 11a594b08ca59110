"""A Standard Webhooks receiver, as a team's CMS would run it (../shared/api-contracts.md §9).

It verifies the signature over the raw body in constant time, refuses timestamps outside ±5 min,
de-duplicates on webhook-id (a repeat is acknowledged, never published twice) and answers 2xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Emulator, json_response

TOLERANCE = 300


class WebhookEmulator(Emulator):
    routes = (Rule("/hooks/shortline", endpoint="receive", methods=["POST"]),)

    def __init__(self, secret: str, path: str = "/hooks/shortline") -> None:
        super().__init__()
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.posts: dict[str, dict[str, Any]] = {}  # webhook-id → event, in arrival order
        self.answer_status: int | None = None  # e.g. 410 to say "this endpoint is gone"

    @property
    def endpoint(self) -> str:
        return self.base_url + "/hooks/shortline"

    def receive(self, request: Request) -> Response:
        if self.answer_status is not None:
            return Response(b"", self.answer_status)
        body = request.get_data(cache=True)
        problem = self._verify(request.headers, body)
        if problem:
            return json_response({"error": problem}, 401)
        with self.lock:
            message_id = request.headers["webhook-id"]
            if message_id not in self.posts:
                self.posts[message_id] = json.loads(body)
        return json_response({"url": f"https://cms.example.org/posts/{message_id}"}, 200)

    def _verify(self, headers: Any, body: bytes) -> str | None:
        try:
            names = ("webhook-id", "webhook-timestamp", "webhook-signature")
            message_id, stamp, signatures = (headers[name] for name in names)
        except KeyError as missing:
            return f"missing header {missing}"
        if abs(time.time() - int(stamp)) > TOLERANCE:
            return "timestamp outside tolerance"
        mac = hmac.new(self.key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        expected = base64.b64encode(mac).decode()
        for candidate in signatures.split(" "):
            version, _, signature = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(signature, expected):
                return None
        return "no matching signature"
