"""A Mastodon server as ../shared/api-contracts.md §3 describes it, for one account.

It enforces Bearer tokens and their scopes, media v2 uploads (type, size, description length; optional
asynchronous processing: 202, then 206 while polled, then 200), statuses counted as Mastodon counts
(graphemes of spoiler_text + status, a URL with a scheme is 23, @user@domain is @user), attachments
that exist, are processed and not yet used, and Idempotency-Key kept per account for a window in
which a repeat returns the original status. Every reply carries X-RateLimit-* headers.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import io
import time
from dataclasses import dataclass, field
from typing import Any

import regex
from PIL import Image
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from pipeline.clock import Clock, SystemClock

from .base import Emulator, Fault, json_response

SCOPES = frozenset({"read", "write:statuses", "write:media"})
_URL = regex.compile(r"https?://[\x21-\x7e]+")  # a URL with a scheme runs to whitespace or non-ASCII
_REMOTE_MENTION = regex.compile(r"@(\w+)@[\w.-]*\w", regex.ASCII)
PROCESSING = "Cannot attach files that have not finished processing. Try again in a moment!"


@dataclass
class Media:
    id: str
    account: str
    mime: str
    size: int
    description: str
    width: int
    height: int
    polls_left: int  # GETs answered 206 before the media is processed
    status_id: str | None = None

    def json(self, base: str) -> dict[str, Any]:
        url = f"{base}/system/media/{self.id}.{self.mime.split('/')[-1]}" if self.processed else None
        return {
            "id": self.id, "type": "image", "url": url, "preview_url": url, "description": self.description,
            "meta": {"original": {"width": self.width, "height": self.height}},
        }  # fmt: skip

    @property
    def processed(self) -> bool:
        return self.polls_left <= 0


@dataclass
class Status:
    id: str
    account: str
    created_at: dt.datetime
    text: str
    spoiler_text: str
    visibility: str
    language: str | None
    media: list[Media] = field(default_factory=list)

    def json(self, base: str, acct: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": None, "reblog": None, "spoiler_text": self.spoiler_text,
            "visibility": self.visibility, "language": self.language,
            "uri": f"{base}/users/{acct}/statuses/{self.id}", "url": f"{base}/@{acct}/{self.id}",
            "content": render(self.text), "media_attachments": [m.json(base) for m in self.media],
        }  # fmt: skip


def length(status: str, spoiler: str = "") -> int:
    """Mastodon's count: graphemes, after URLs become 23 characters and @user@domain becomes @user."""
    countable = _REMOTE_MENTION.sub(r"@\1", _URL.sub("x" * 23, status))
    return len(regex.findall(r"\X", spoiler + countable))


def render(text: str) -> str:
    """Status text as Mastodon's HTML: paragraphs, <br />, escaped text, links with their scheme hidden."""
    paragraphs = [p for p in regex.split(r"\n{2,}", text.strip()) if p]
    return "".join(f"<p>{_linked(p).replace(chr(10), '<br />')}</p>" for p in paragraphs)


def _linked(text: str) -> str:
    out, end = [], 0
    for match in _URL.finditer(text):
        scheme, rest = match[0].split("://", 1)
        out += [html.escape(text[end : match.start()])]
        out += [
            f'<a href="{html.escape(match[0])}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{scheme}://</span><span class="">{html.escape(rest)}</span></a>'
        ]
        end = match.end()
    return "".join(out) + html.escape(text[end:])


class MastodonEmulator(Emulator):
    routes = (
        Rule("/api/v1/accounts/verify_credentials", endpoint="verify_credentials", methods=["GET"]),
        Rule("/api/v1/accounts/<account_id>/statuses", endpoint="account_statuses", methods=["GET"]),
        Rule("/api/v2/instance", endpoint="instance", methods=["GET"]),
        Rule("/api/v2/media", endpoint="upload_media", methods=["POST"]),
        Rule("/api/v1/media/<media_id>", endpoint="get_media", methods=["GET"]),
        Rule("/api/v1/statuses", endpoint="create_status", methods=["POST"]),
    )

    def __init__(self, token: str, clock: Clock | None = None, username: str = "shenyang") -> None:
        super().__init__()
        self.clock = clock or SystemClock()  # created_at and the idempotency window; rate limits use wall time
        self.tokens: dict[str, frozenset[str]] = {token: SCOPES}
        self.account = {"id": "109348721543370001", "username": username, "acct": username}
        self.max_characters, self.max_media = 500, 4
        self.description_limit, self.image_size_limit = 1500, 16_777_216
        self.mime_types = ["image/jpeg", "image/png", "image/gif", "image/heic", "image/heif", "image/webp"]
        self.processing_polls = 0  # > 0: uploads answer 202, then GET answers 206 this many times
        self.idempotency_window = 3600.0  # seconds a key is remembered [unconfirmed for every server]
        self.rate_limit, self.rate_window = 300, 300  # requests per window (seconds)
        self.reset_format = "iso"  # how X-RateLimit-Reset is written: "iso" (Mastodon) or "epoch"
        self.media: dict[str, Media] = {}
        self.statuses: list[Status] = []
        self.keys: dict[tuple[str, str], tuple[str, dt.datetime]] = {}  # (account, key) → (status id, when)
        self._ids = 103254962155278888
        self._window: tuple[float, int] = (time.time(), 0)  # window start, requests in it

    # -- what Mastodon says differently ------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return self._reply({"error": "We're sorry, but something went wrong on our end."}, status)

    def rate_limited(self, fault: Fault) -> Response:
        return self._reply({"error": "Too many requests"}, 429, reset=wall_time(fault.retry_after or "1"))

    def expire_tokens(self) -> None:
        """Mastodon tokens never expire; the nearest event is a revocation."""
        with self.lock:
            self.tokens.clear()

    # -- endpoints ---------------------------------------------------------------------------

    def verify_credentials(self, request: Request) -> Response:
        return self._authorized(request, "read") or self._reply(self.account | {"display_name": "Shenyang"})

    def instance(self, request: Request) -> Response:
        statuses = {"max_characters": self.max_characters, "max_media_attachments": self.max_media}
        media = {
            "supported_mime_types": self.mime_types, "description_limit": self.description_limit,
            "image_size_limit": self.image_size_limit, "image_matrix_limit": 33_177_600,
        }  # fmt: skip
        configuration = {"statuses": statuses | {"characters_reserved_per_url": 23}, "media_attachments": media}
        return self._reply({"domain": "127.0.0.1", "version": "4.3.0", "configuration": configuration})

    def upload_media(self, request: Request) -> Response:
        if refused := self._authorized(request, "write:media"):
            return refused
        upload = request.files.get("file")
        if upload is None:
            return self._reply({"error": "Validation failed: File can't be blank"}, 422)
        data, description = upload.read(), request.form.get("description", "")
        problem = self._media_problem(upload.mimetype, data, description)
        if problem:
            return self._reply({"error": f"Validation failed: {problem}"}, 422)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        with self.lock:
            media = Media(self._next_id(), self.account["id"], upload.mimetype, len(data), description, width, height,
                          self.processing_polls)  # fmt: skip
            self.media[media.id] = media
        return self._reply(media.json(self.base_url), 202 if self.processing_polls else 200)

    def get_media(self, request: Request, media_id: str) -> Response:
        if refused := self._authorized(request, "write:media"):
            return refused
        with self.lock:
            media = self.media.get(media_id)
            if media is None:
                return self._reply({"error": "Record not found"}, 404)
            processing, media.polls_left = not media.processed, media.polls_left - 1
            return self._reply(media.json(self.base_url), 206 if processing else 200)

    def create_status(self, request: Request) -> Response:
        if refused := self._authorized(request, "write:statuses"):
            return refused
        form = _form(request)
        key = request.headers.get("Idempotency-Key")
        with self.lock:
            if key and (original := self._remembered(key)) is not None:
                return self._reply(original.json(self.base_url, self.account["acct"]))
            media, problem = self._attachments(form.get("media_ids") or [])
            problem = problem or self._status_problem(form, media)
            if problem:
                return self._reply({"error": problem}, 422)
            status = self._create(form, media)
            if key:
                self.keys[(self.account["id"], key)] = (status.id, status.created_at)
        return self._reply(status.json(self.base_url, self.account["acct"]))

    def account_statuses(self, request: Request, account_id: str) -> Response:
        if refused := self._authorized(request, "read"):
            return refused
        if account_id != self.account["id"]:
            return self._reply({"error": "Record not found"}, 404)
        limit = min(int(request.args.get("limit", 20)), 40)
        with self.lock:
            newest = sorted(self.statuses, key=lambda s: s.created_at, reverse=True)[:limit]
            return self._reply([s.json(self.base_url, self.account["acct"]) for s in newest])

    # -- rules -------------------------------------------------------------------------------

    def _authorized(self, request: Request, scope: str) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return self._reply({"error": "This method requires an authenticated user"}, 401)
        with self.lock:
            scopes = self.tokens.get(header.removeprefix("Bearer "))
        if scopes is None:
            return self._reply({"error": "The access token is invalid"}, 401)
        if scope not in scopes and scope.split(":")[0] not in scopes:
            return self._reply({"error": "This action is outside the authorized scopes"}, 403)
        return None

    def _media_problem(self, mime: str, data: bytes, description: str) -> str | None:
        if mime not in self.mime_types or _sniffed(data) != mime:
            return "File content type is invalid, File is invalid"
        if len(data) > self.image_size_limit:
            return f"File file size must be less than {self.image_size_limit // 1_048_576} MB"
        if len(description) > self.description_limit:
            return f"Description is too long (maximum is {self.description_limit} characters)"
        return None

    def _attachments(self, ids: list[str]) -> tuple[list[Media], str | None]:
        if len(ids) > self.max_media:
            return [], f"Cannot attach more than {self.max_media} files"
        found = [self.media.get(str(i)) for i in ids]
        missing = [str(i) for i, m in zip(ids, found, strict=True) if m is None or m.status_id is not None]
        if missing:
            return [], f"Media {', '.join(missing)} not found or already attached to another post"
        media = [m for m in found if m is not None]
        return media, PROCESSING if any(not m.processed for m in media) else None

    def _status_problem(self, form: dict[str, Any], media: list[Media]) -> str | None:
        text, spoiler = str(form.get("status") or ""), str(form.get("spoiler_text") or "")
        if not text and not media:
            return "Validation failed: Text can't be blank"
        if length(text, spoiler) > self.max_characters:
            return f"Validation failed: Text character limit of {self.max_characters} exceeded"
        if form.get("visibility", "public") not in ("public", "unlisted", "private", "direct"):
            return "Validation failed: Visibility is not included in the list"
        return None

    def _create(self, form: dict[str, Any], media: list[Media]) -> Status:
        status = Status(
            self._next_id(), self.account["id"], self.clock.now(), str(form.get("status") or ""),
            str(form.get("spoiler_text") or ""), str(form.get("visibility", "public")), form.get("language"), media,
        )  # fmt: skip
        for attached in media:
            attached.status_id = status.id
        self.statuses.append(status)
        return status

    def _remembered(self, key: str) -> Status | None:
        found = self.keys.get((self.account["id"], key))
        if found is None or (self.clock.now() - found[1]).total_seconds() > self.idempotency_window:
            return None
        return next(s for s in self.statuses if s.id == found[0])

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def _reply(self, body: Any, status: int = 200, reset: float | None = None) -> Response:
        """A JSON reply with X-RateLimit-Limit/Remaining/Reset; `reset` overrides the window's end."""
        with self.lock:
            start, used = self._window
            if time.time() >= start + self.rate_window:
                start, used = time.time(), 0
            self._window = (start, used + 1)
        at = reset if reset is not None else start + self.rate_window
        remaining = 0 if status == 429 else max(0, self.rate_limit - used - 1)
        headers = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(remaining)}
        return json_response(body, status, headers | {"X-RateLimit-Reset": self._reset_text(at)})

    def _reset_text(self, at: float) -> str:
        if self.reset_format == "epoch":
            return str(int(at))
        return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _form(request: Request) -> dict[str, Any]:
    """A status request's parameters, from a JSON body or a form (media_ids[] repeated)."""
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    form: dict[str, Any] = dict(request.form)
    form["media_ids"] = request.form.getlist("media_ids[]")
    return form


def _sniffed(data: bytes) -> str | None:
    """The image type the bytes really are (Mastodon checks the content, not only the declared type)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return Image.MIME.get(image.format or "")
    except OSError:
        return None


def wall_time(retry_after: str) -> float:
    """A fault's wait (seconds or an HTTP-date) as the epoch instant when the limit resets."""
    if retry_after.strip().isdigit():
        return time.time() + float(retry_after)
    return email.utils.parsedate_to_datetime(retry_after).timestamp()
