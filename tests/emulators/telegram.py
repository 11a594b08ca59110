"""Telegram's Bot API for one bot: getMe, getChat, sendMessage, sendPhoto, sendMediaGroup (contract sheet §6).

Enforced: the token in the path (malformed → 404 Not Found, unknown or revoked → 401 Unauthorized),
the chat (unknown → 400 chat not found, bot not an admin → 403, upgraded group → 400 with
migrate_to_chat_id), HTML parse mode (known tags only, balanced; a stray "<" → can't parse
entities), text 1–4096 and caption 0–1024 UTF-16 units after parsing, photos as uploaded files of
≤ 10 MB with width + height ≤ 10000 and a side ratio ≤ 20 (read with Pillow), albums of 2–10
photos sharing a media_group_id. Replies are {"ok": true, "result"} or {"ok": false, "error_code",
"description", "parameters"}. Each send that succeeds is one post (an album is one).
"""

from __future__ import annotations

import email.utils
import http
import io
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Emulator, Fault, json_response

TOKEN = "123456789:AAEtestTelegramBotToken0123456789ab"
CHAT = "@shenyang_city"
CHAT_ID = -1001234567890
TOKEN_FORMAT = re.compile(r"\d+:[A-Za-z0-9_-]{35}")
TAGS = frozenset(("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre"))
TAGS |= {"blockquote", "tg-emoji"}
MARKUP = re.compile(r"<(/?)([A-Za-z][\w-]*)(?:\s[^<>]*)?>|&(#\d+|#x[0-9A-Fa-f]+|lt|gt|amp|quot);|<")
ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class Refused(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Chat:
    id: int
    title: str
    username: str | None = None
    type: str = "channel"
    bot_is_admin: bool = True
    migrate_to: int | None = None  # a group upgraded to a supergroup answers with this id
    last_message_id: int = 100

    def public(self) -> dict[str, Any]:
        info = {"id": self.id, "title": self.title, "type": self.type}
        return info | ({"username": self.username} if self.username else {})


class TelegramEmulator(Emulator):
    routes = (
        Rule("/bot<token>/getMe", endpoint="get_me", methods=["GET", "POST"]),
        Rule("/bot<token>/getChat", endpoint="get_chat", methods=["GET", "POST"]),
        Rule("/bot<token>/sendMessage", endpoint="send_message", methods=["POST"]),
        Rule("/bot<token>/sendPhoto", endpoint="send_photo", methods=["POST"]),
        Rule("/bot<token>/sendMediaGroup", endpoint="send_media_group", methods=["POST"]),
        Rule("/bot<token>/<method>", endpoint="unknown_method", methods=["GET", "POST"]),
    )

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.tokens = {
            token: {
                "id": int(token.split(":")[0]),
                "is_bot": True,
                "first_name": "Shortline",
                "username": "shortline_bot",
            }
        }
        self.revoked: set[str] = set()
        self.chats = [Chat(CHAT_ID, "沈阳 Shenyang", CHAT[1:])]
        self.posts: list[list[dict[str, Any]]] = []  # each post: its messages (an album has several)
        self.max_photo_bytes = 10 * 1024 * 1024  # "10 MB" [unit unconfirmed: MiB is the lenient reading]

    # -- endpoints ---------------------------------------------------------------------------

    def get_me(self, request: Request, token: str) -> Response:
        return self._bot_call(token, request, lambda params: self.tokens[token])

    def get_chat(self, request: Request, token: str) -> Response:
        return self._bot_call(token, request, lambda params: self._chat(params).public())

    def send_message(self, request: Request, token: str) -> Response:
        return self._bot_call(token, request, self._send_message)

    def send_photo(self, request: Request, token: str) -> Response:
        return self._bot_call(token, request, lambda params: self._send_photo(params, request))

    def send_media_group(self, request: Request, token: str) -> Response:
        return self._bot_call(token, request, lambda params: self._send_media_group(params, request))

    def unknown_method(self, request: Request, token: str, method: str) -> Response:
        return self._bot_call(token, request, lambda params: _raise(Refused(404, "Not Found")))

    # -- faults ------------------------------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return json_response({"ok": False, "error_code": status, "description": http.HTTPStatus(status).phrase}, status)

    def rate_limited(self, fault: Fault) -> Response:
        wait = _wait_seconds(fault)
        body = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {wait}"}
        return json_response(body | {"parameters": {"retry_after": wait}}, 429)

    def expire_tokens(self) -> None:
        """Bot tokens do not expire; revoking one at @BotFather is the nearest thing."""
        with self.lock:
            self.revoked |= set(self.tokens)

    # -- handlers ----------------------------------------------------------------------------

    def _bot_call(self, token: str, request: Request, act: Callable[[dict[str, Any]], Any]) -> Response:
        try:
            if not TOKEN_FORMAT.fullmatch(token):
                raise Refused(404, "Not Found")
            if token not in self.tokens or token in self.revoked:
                raise Refused(401, "Unauthorized")
            return json_response({"ok": True, "result": act(_params(request))})
        except Refused as refused:
            body = {"ok": False, "error_code": refused.code, "description": refused.description}
            return json_response(
                body | ({"parameters": refused.parameters} if refused.parameters else {}), refused.code
            )

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text = parse(params.get("text", ""), params.get("parse_mode"))
        if not text.strip():
            raise Refused(400, "Bad Request: message text is empty")
        if utf16(text) > 4096:
            raise Refused(400, "Bad Request: message is too long")
        preview = params.get("link_preview_options") or {}
        preview = json.loads(preview) if isinstance(preview, str) else preview
        return self._post(chat, [{"text": text, "link_preview_options": preview}])[0]

    def _send_photo(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        chat = self._chat(params)
        caption = _caption(params.get("caption", ""), params.get("parse_mode"))
        photo = self._photo(request.files.get("photo"))
        return self._post(chat, [{"photo": photo} | caption])[0]

    def _send_media_group(self, params: dict[str, Any], request: Request) -> list[dict[str, Any]]:
        chat = self._chat(params)
        try:
            media = json.loads(params.get("media", ""))
        except ValueError:
            raise Refused(400, "Bad Request: can't parse media JSON object") from None
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise Refused(400, "Bad Request: wrong number of media in the album: 2-10 are needed")
        group = f"{13000000000000000 + len(self.posts)}"
        contents = [self._album_item(item, request) | {"media_group_id": group} for item in media]
        return self._post(chat, contents)

    def _album_item(self, item: Any, request: Request) -> dict[str, Any]:
        if not isinstance(item, dict) or item.get("type") != "photo":
            raise Refused(400, "Bad Request: only photos are expected in this album")
        name = str(item.get("media", "")).removeprefix("attach://")
        if not str(item.get("media", "")).startswith("attach://") or name not in request.files:
            raise Refused(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return {"photo": self._photo(request.files[name])} | _caption(item.get("caption", ""), item.get("parse_mode"))

    def _chat(self, params: dict[str, Any]) -> Chat:
        ref = str(params.get("chat_id", ""))
        found = next((c for c in self.chats if ref in (str(c.id), f"@{c.username}")), None)
        if found is None:
            raise Refused(400, "Bad Request: chat not found")
        if found.migrate_to is not None:
            description = "Bad Request: group chat was upgraded to a supergroup chat"
            raise Refused(400, description, {"migrate_to_chat_id": found.migrate_to})
        if not found.bot_is_admin:
            raise Refused(403, "Forbidden: bot is not a member of the channel chat")
        return found

    def _photo(self, upload: FileStorage | None) -> list[dict[str, Any]]:
        """The PhotoSize list of an uploaded photo, after Telegram's checks."""
        if upload is None:
            raise Refused(400, "Bad Request: there is no photo in the request")
        data = upload.read()
        if len(data) > self.max_photo_bytes:
            raise Refused(400, "Bad Request: file is too big")
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (OSError, Image.DecompressionBombError):
            raise Refused(400, "Bad Request: IMAGE_PROCESS_FAILED") from None
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise Refused(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        file_id = f"AgAC{len(self.requests):08d}"
        return [
            {
                "file_id": file_id,
                "file_unique_id": file_id[-8:],
                "width": width,
                "height": height,
                "file_size": len(data),
            }
        ]

    def _post(self, chat: Chat, contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:
            messages = []
            for content in contents:
                chat.last_message_id += 1
                head = {"message_id": chat.last_message_id, "sender_chat": chat.public(), "chat": chat.public()}
                messages.append(head | {"date": int(time.time())} | content)
            self.posts.append(messages)
            return messages


def parse(text: str, parse_mode: str | None) -> str:
    """The text Telegram keeps: in HTML mode known tags dropped (balanced) and entities decoded."""
    if parse_mode is None or parse_mode == "":
        return text
    if parse_mode != "HTML":
        raise Refused(400, f"Bad Request: unsupported parse_mode {parse_mode!r} (this emulator knows HTML)")
    plain, open_tags, at = [], [], 0
    for match in MARKUP.finditer(text):
        plain.append(text[at : match.start()])
        at = match.end()
        closing, tag, entity = match.groups()
        offset = len(text[: match.start()].encode())
        if entity:
            plain.append(_entity(entity))
        elif tag is None or tag.lower() not in TAGS:
            raise Refused(
                400, f'Bad Request: can\'t parse entities: unsupported start tag "{tag or ""}" at byte offset {offset}'
            )
        elif not closing:
            open_tags.append(tag.lower())
        elif not open_tags or open_tags.pop() != tag.lower():
            raise Refused(400, f"Bad Request: can't parse entities: unexpected end tag at byte offset {offset}")
    if open_tags:
        raise Refused(
            400, f"Bad Request: can't parse entities: can't find end tag corresponding to start tag \"{open_tags[-1]}\""
        )
    return "".join(plain) + text[at:]


def _entity(name: str) -> str:
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    return chr(int(name[1:])) if name.startswith("#") else ENTITIES[name]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _caption(value: Any, parse_mode: Any) -> dict[str, str]:
    caption = parse(str(value), parse_mode if isinstance(parse_mode, str) else None)
    if utf16(caption) > 1024:
        raise Refused(400, "Bad Request: message caption is too long")
    return {"caption": caption} if caption else {}


def _params(request: Request) -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        return dict(body) if isinstance(body, dict) else {}
    return dict(request.values.items())


def _raise(error: Exception) -> Any:
    raise error


def _wait_seconds(fault: Fault) -> int:
    """The fault's wait in whole seconds, from its Retry-After value (seconds or an HTTP-date)."""
    value = fault.retry_after or str(int(fault.seconds))
    if value.isdigit():
        return max(1, int(value))
    return max(1, math.ceil(email.utils.parsedate_to_datetime(value).timestamp() - time.time()))
