"""Telegram Bot API: a message, a photo or an album to one chat (../shared/api-contracts.md §6).

The bot token is part of every URL (/bot<token>/<method>), so every error here names the method
alone; the token is also a registered secret, masked wherever it might still appear.

Bots cannot read a chat's history and the API has no idempotency, so the channel's `on_unknown`
policy is "at_most_once", the only one offered: a send that may have gone through (no reply in
time, a 5xx) is never re-sent and waits for an editor. ("at_least_once", re-sending and deleting a
duplicate by hand, is not available.) That includes a connection reset after the request was sent:
Telegram may have acted before the connection dropped, so it waits for an editor too.

Telegram has no alt text for photos: a card's alt is not sent.
"""

from __future__ import annotations

import html
import json
import mimetypes
from typing import Any

import requests

from ..compose import counting
from ..config import ChannelConfig
from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt
from .base import ChannelReport, Limits, Progress, Publisher, Services
from .http import Api, wait_hint

MAX_MEDIA = 10
LIMITS = {"text": 4096, "caption": 1024, "media_group": MAX_MEDIA, "photo_bytes": 10_000_000}
POLICIES = ("at_most_once",)


class TelegramPublisher(Publisher):
    type = "telegram"
    idempotent = False
    limits = Limits(max_chars=4096, max_images=MAX_MEDIA)  # chars: UTF-16 units; 1024 as a caption
    default_base_url = "https://api.telegram.org"

    def __init__(self, name: str, config: ChannelConfig, services: Services) -> None:
        super().__init__(name, config, services)
        self.api = BotApi(name, self.api.base_url, services.session, services.timeouts)

    def check(self, variant: Variant) -> list[str]:
        problems = counting.over_limit("telegram", "caption" if variant.cards else "text", variant.text)
        if not variant.cards and not variant.text.strip():
            problems.append("telegram text: a message needs some text")
        if len(variant.cards) > MAX_MEDIA:
            problems.append(f"{len(variant.cards)} images; an album takes at most {MAX_MEDIA}")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        self._policy()
        chat = progress.get("chat_id") or self.option("chat_id")  # a group that moved: its new id
        method, kwargs = self._send(delivery.variant, chat)
        response = self._call(method, create=True, **kwargs)
        body = _json(response)
        if response.ok and body.get("ok") is True:
            return _receipt(chat, body["result"])
        raise self._refusal(method, response, body, create=True, progress=progress)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """Bots cannot read a chat's history: Telegram cannot tell (at most once: an editor checks)."""
        return None

    def verify(self) -> ChannelReport:
        try:
            self._policy()
            bot = self._result("getMe")
            chat = self._result("getChat", json={"chat_id": self.option("chat_id")})
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc), LIMITS)
        detail = f"bot @{bot.get('username')} can see the {chat.get('type')} {chat.get('title')!r}"
        return ChannelReport(self.name, True, detail, LIMITS)

    def _send(self, variant: Variant, chat: str) -> tuple[str, dict[str, Any]]:
        """The method and its request: JSON without cards, else a multipart form (nested fields as JSON)."""
        if len(variant.cards) > MAX_MEDIA:
            raise ContentRejected(self.name, f"{len(variant.cards)} images; an album takes at most {MAX_MEDIA}")
        method, fields, files = send_request(variant, chat)
        if not files:
            return method, {"json": fields}
        return method, {"data": _form(fields), "files": {name: self._file(card) for name, card in files.items()}}

    def _file(self, card: Card) -> tuple[str, bytes, str]:
        return card.path.name, self.card_bytes(card), mimetypes.guess_type(card.path.name)[0] or "image/png"

    def _call(self, method: str, *, create: bool = False, **kwargs: Any) -> requests.Response:
        return self.api.request("POST", f"/bot{self.secret('bot_token')}/{method}", create=create, **kwargs)

    def _result(self, method: str, **kwargs: Any) -> dict[str, Any]:
        response = self._call(method, **kwargs)
        body = _json(response)
        if response.ok and body.get("ok") is True and isinstance(body.get("result"), dict):
            return dict(body["result"])
        raise self._refusal(method, response, body, create=False)

    def _refusal(
        self,
        method: str,
        response: requests.Response,
        body: dict[str, Any],
        *,
        create: bool,
        progress: Progress | None = None,
    ) -> PublishError:
        """Telegram's {"ok": false, "error_code", "description", "parameters"} as a PublishError, named by method."""
        code: int = body["error_code"] if isinstance(body.get("error_code"), int) else response.status_code
        parameters: dict[str, Any] = body["parameters"] if isinstance(body.get("parameters"), dict) else {}
        what = f"{method} answered {code}: {body.get('description') or response.reason}"
        if code == 429:
            return TemporaryError(
                self.name, what, _seconds(parameters.get("retry_after")) or wait_hint(response.headers)
            )
        if code == 400 and (moved := parameters.get("migrate_to_chat_id")) and progress is not None:
            progress.put("chat_id", str(moved))
            return TemporaryError(self.name, f"{what}: the chat moved to {moved}; sending there next (update chat_id)")
        if code in (401, 403, 404):
            return AuthError(self.name, f"{what}; check the bot token and that the bot is an admin of the chat")
        if code >= 500 or response.status_code >= 500:
            return OutcomeUnknown(self.name, what) if create else TemporaryError(self.name, what)
        return ContentRejected(self.name, what)

    def _policy(self) -> None:
        policy = self.option("on_unknown", "at_most_once")
        if policy not in POLICIES:
            raise AuthError(self.name, f"on_unknown {policy!r} is not available; use at_most_once")


class BotApi(Api):
    """Errors name the method, never the path (it holds the token)."""

    def transport_error(self, method: str, path: str, exc: requests.RequestException, create: bool) -> PublishError:
        return super().transport_error(method, path.rsplit("/", 1)[-1], exc, create)


def send_request(variant: Variant, chat: str) -> tuple[str, dict[str, Any], dict[str, Card]]:
    """The method, its fields and its files (by form field): sendMessage without cards, sendPhoto with
    one, sendMediaGroup with more (each card attached as p0, p1, ...; the first item's caption is the album's)."""
    text, cards = html.escape(variant.text, quote=False), variant.cards
    if not cards:
        preview = {"is_disabled": True}
        return "sendMessage", {"chat_id": chat, "text": text, "parse_mode": "HTML", "link_preview_options": preview}, {}
    if len(cards) == 1:
        return "sendPhoto", {"chat_id": chat, "caption": text, "parse_mode": "HTML"}, {"photo": cards[0]}
    media: list[dict[str, str]] = [{"type": "photo", "media": f"attach://p{i}"} for i in range(len(cards))]
    media[0] |= {"caption": text, "parse_mode": "HTML"}
    return "sendMediaGroup", {"chat_id": chat, "media": media}, {f"p{i}": card for i, card in enumerate(cards)}


def _form(fields: dict[str, Any]) -> dict[str, str]:
    """Multipart form values: strings as they are, lists and objects as JSON."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) for key, value in fields.items()
    }


def _receipt(chat: str, result: Any) -> Receipt:
    """The message id (an album's first) and its link: t.me/<username>/<id>, or t.me/c/<id> for numeric chats."""
    message = result[0] if isinstance(result, list) else result
    message_id = str(message["message_id"])
    if chat.startswith("@"):
        return Receipt(message_id, f"https://t.me/{chat[1:]}/{message_id}")
    url = f"https://t.me/c/{chat.removeprefix('-100')}/{message_id}" if chat.startswith("-100") else None
    return Receipt(message_id, url)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value >= 0 else None
