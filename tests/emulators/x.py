"""X API v2 for a user-context OAuth 2 app (../shared/api-contracts.md §4).

Enforced: Bearer user tokens that expire (`expire_tokens` → the Problem-JSON 401); the token endpoint
with refresh-token rotation (a used refresh token is dead) and client authentication (Basic for a
confidential client, client_id in the body for a public one); media upload (tweet_image, image types
checked on the bytes, ≤ 5 MB, optional processing), alt text through media metadata; tweets weighed by
twitter-text's own parse_tweet (> 280 → 400 "too long"), 1–4 media ids that must exist and be
processed, duplicate text → 403; the returned text with t.co links and a media link appended;
x-rate-limit-* headers on every answer, with a real 15-minute window; users/me and users/{id}/tweets
with max_results and start_time.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import functools
import hashlib
import html
import itertools
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from twitter_text import extract_urls_with_indices, parse_tweet  # type: ignore[import-untyped]
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from pipeline.clock import Clock, SystemClock

from .base import Emulator, Fault, json_response

USER = {"id": "1585843250936582144", "name": "Shortline", "username": "shortline_test"}
MAX_BYTES = 5_000_000
MAX_ALT = 1000
MEDIA_LIFETIME = 86400  # seconds an uploaded media id can be used in a tweet
WINDOW = 900  # seconds in a rate-limit window
LIMITS = {"create_tweet": 100, "upload_media": 500, "media_status": 500, "media_metadata": 500}
LIMITS |= {"users_me": 75, "user_tweets": 900}
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/bmp": (b"BM",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
}
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text."
)
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}
CLIENT_FORBIDDEN = {
    "title": "Client Forbidden",
    "detail": "This request must be made using an approved developer account that is enrolled in the requested "
    "endpoint.",
    "reason": "client-not-enrolled",
    "type": "https://api.twitter.com/2/problems/client-forbidden",
}
TOO_MANY = {
    "problem": {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
    "code88": {"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
    "usage_capped": {
        "title": "UsageCapExceeded",
        "detail": "Usage cap exceeded: Daily user limit",
        "type": "https://api.twitter.com/2/problems/usage-capped",
        "period": "Daily",
        "scope": "User",
    },
}


@dataclass
class Media:
    id: str
    size: int
    kind: str
    polls_left: int
    expires_at: dt.datetime
    alt: str | None = None


@dataclass
class Tweet:
    id: str
    text: str  # as sent
    shown: str  # as X returns it: t.co links, media link appended, HTML-escaped
    created_at: dt.datetime
    media_ids: list[str]


def user_context(handler: Callable[..., Response]) -> Callable[..., Response]:
    """A user-token endpoint: Bearer check, app access, then its 15-minute rate window."""

    @functools.wraps(handler)
    def serve(self: XEmulator, request: Request, **args: Any) -> Response:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        headers, over = self.spend(handler.__name__)
        response = json_response(TOO_MANY["problem"], 429) if over else handler(self, request, **args)
        response.headers.update(headers)
        return response

    return serve


class XEmulator(Emulator):
    routes = (
        Rule("/2/oauth2/token", endpoint="token", methods=["POST"]),
        Rule("/2/media/upload", endpoint="upload_media", methods=["POST"]),
        Rule("/2/media/upload", endpoint="media_status", methods=["GET"]),
        Rule("/2/media/metadata", endpoint="media_metadata", methods=["POST"]),
        Rule("/2/tweets", endpoint="create_tweet", methods=["POST"]),
        Rule("/2/users/me", endpoint="users_me", methods=["GET"]),
        Rule("/2/users/<user_id>/tweets", endpoint="user_tweets", methods=["GET"]),
    )

    def __init__(
        self,
        access_token: str,
        refresh_token: str,
        client_id: str = "c2hvcnRsaW5lLWNsaWVudA",
        client_secret: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.client_id, self.client_secret = client_id, client_secret
        self.access: dict[str, dt.datetime] = {access_token: self.clock.now() + dt.timedelta(hours=2)}
        self.refresh_tokens = {refresh_token}
        self.refreshes = 0
        self.media: dict[str, Media] = {}
        self.tweets: list[Tweet] = []
        self.processing_polls = 0  # STATUS checks an upload stays "in_progress" (images are synchronous)
        self.forbidden = False  # the app or its plan lacks access: 403 client-forbidden
        self.rate_limit_shape = "problem"  # which of the three documented 429 bodies a fault answers
        self._ids = itertools.count(1880028106020515840, 7919)
        self._windows: dict[str, tuple[float, int]] = {}

    # -- what X says differently -------------------------------------------------------------

    def server_error(self, status: int) -> Response:
        phrase = HTTPStatus(status).phrase
        return json_response({"title": phrase, "detail": phrase, "type": "about:blank", "status": status}, status)

    def rate_limited(self, fault: Fault) -> Response:
        reset = str(_reset_epoch(fault))
        headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
        if self.rate_limit_shape == "usage_capped":
            headers |= {"x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": reset}
        return json_response(TOO_MANY[self.rate_limit_shape], 429, headers)

    def expire_tokens(self) -> None:
        with self.lock:
            self.access = {token: self.clock.now() - dt.timedelta(seconds=1) for token in self.access}

    # -- OAuth 2 -----------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        refusal = self._client_refusal(request)
        if refusal is not None:
            return refusal
        if request.form.get("grant_type") != "refresh_token":
            return json_response({"error": "unsupported_grant_type", "error_description": "grant_type"}, 400)
        with self.lock:
            if request.form.get("refresh_token") not in self.refresh_tokens:
                invalid = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
                return json_response(invalid, 400)
            self.refresh_tokens.discard(request.form["refresh_token"])  # rotation: a refresh token works once
            self.refreshes += 1
            access, refresh = self._issue()
        scope = "tweet.read tweet.write users.read media.write offline.access"
        body = {"token_type": "bearer", "expires_in": 7200, "access_token": access, "scope": scope}
        return json_response(body | {"refresh_token": refresh})

    def _client_refusal(self, request: Request) -> Response | None:
        if self.client_secret is None:
            if request.form.get("client_id") != self.client_id:
                return json_response({"error": "invalid_request", "error_description": "Missing client_id"}, 400)
            return None
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return json_response(
                {"error": "unauthorized_client", "error_description": "Missing valid authorization"}, 401
            )
        return None

    def _issue(self) -> tuple[str, str]:
        access, refresh = f"xat-{secrets.token_urlsafe(24)}", f"xrt-{secrets.token_urlsafe(24)}"
        self.access[access] = self.clock.now() + dt.timedelta(seconds=7200)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def refusal(self, request: Request) -> Response | None:
        """401 for a missing, unknown or expired user token; 403 when the app lacks access."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.lock:
            expires = self.access.get(token) if scheme == "Bearer" else None
        if expires is None or expires <= self.clock.now():
            return json_response(UNAUTHORIZED, 401)
        if self.forbidden:
            return json_response(CLIENT_FORBIDDEN, 403)
        return None

    def spend(self, endpoint: str) -> tuple[dict[str, str], bool]:
        """One request from the endpoint's 15-minute window: its headers, and whether it was already empty."""
        limit, now = LIMITS[endpoint], time.time()
        with self.lock:
            reset, used = self._windows.get(endpoint, (now + WINDOW, 0))
            if now >= reset:
                reset, used = now + WINDOW, 0
            over = used >= limit
            self._windows[endpoint] = (reset, used if over else used + 1)
            remaining = limit - self._windows[endpoint][1]
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset)),
        }, over

    # -- media -------------------------------------------------------------------------------

    @user_context
    def upload_media(self, request: Request) -> Response:
        upload = request.files.get("media")
        if request.form.get("media_category") != "tweet_image":
            return _invalid(
                "media_category", request.form.get("media_category", ""), "media_category must be tweet_image"
            )
        if upload is None:
            return _invalid("media", "", "The media field is required")
        data = upload.read()
        kind = _image_kind(data)
        if kind is None or request.form.get("media_type", kind) != kind:
            return _invalid("media_type", request.form.get("media_type", ""), "The media is not a supported image")
        if len(data) > MAX_BYTES:
            return _invalid("media", str(len(data)), f"Image size must be <= {MAX_BYTES} bytes")
        expires = self.clock.now() + dt.timedelta(seconds=MEDIA_LIFETIME)
        media = Media(str(next(self._ids)), len(data), kind, self.processing_polls, expires)
        with self.lock:
            self.media[media.id] = media
        return json_response(
            {"data": self._media_json(media) | {"size": media.size, "expires_after_secs": MEDIA_LIFETIME}}
        )

    @user_context
    def media_status(self, request: Request) -> Response:
        media = self.media.get(request.args.get("media_id", ""))
        if request.args.get("command") != "STATUS" or media is None:
            return _invalid("media_id", request.args.get("media_id", ""), "Unknown media_id or command")
        with self.lock:
            media.polls_left = max(0, media.polls_left - 1)
        return json_response({"data": self._media_json(media)})

    @user_context
    def media_metadata(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        media = self.media.get(str(body.get("id", "")))
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if media is None:
            return _invalid("id", str(body.get("id", "")), "The media id was not found")
        if not isinstance(alt, str) or len(alt) > MAX_ALT:
            return _invalid("metadata.alt_text.text", str(alt), f"alt text must be a string of <= {MAX_ALT} characters")
        media.alt = alt
        return json_response({"data": {"id": media.id, "associated_metadata": {"alt_text": {"text": alt}}}})

    def _media_json(self, media: Media) -> dict[str, Any]:
        data: dict[str, Any] = {"id": media.id, "media_key": f"3_{media.id}"}
        if self.processing_polls:
            state = "in_progress" if media.polls_left else "succeeded"
            data["processing_info"] = {"state": state, "check_after_secs": 1} if media.polls_left else {"state": state}
        return data

    # -- tweets ------------------------------------------------------------------------------

    @user_context
    def create_tweet(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _invalid("body", "", "The request body is not valid JSON")
        text, media_ids = str(body.get("text", "")), (body.get("media") or {}).get("media_ids", [])
        problem = self._media_problem(media_ids) or _text_problem(text, bool(media_ids))
        if problem is not None:
            return problem
        with self.lock:
            if any(tweet.text == text for tweet in self.tweets):
                return json_response(DUPLICATE, 403)
            tweet = Tweet(str(next(self._ids)), text, _shown(text, media_ids), self.clock.now(), list(media_ids))
            self.tweets.append(tweet)
        return json_response({"data": {"id": tweet.id, "text": tweet.shown, "edit_history_tweet_ids": [tweet.id]}}, 201)

    def _media_problem(self, media_ids: Any) -> Response | None:
        if not isinstance(media_ids, list) or not 0 <= len(media_ids) <= 4:
            return _invalid("media.media_ids", str(media_ids), "media_ids must hold 1 to 4 ids")
        for media_id in media_ids:
            media = self.media.get(media_id) if isinstance(media_id, str) else None
            if media is None or media.polls_left or media.expires_at <= self.clock.now():
                return _invalid("media.media_ids", str(media_id), "Your media IDs are invalid.")
        return None

    @user_context
    def users_me(self, request: Request) -> Response:
        return json_response({"data": USER})

    @user_context
    def user_tweets(self, request: Request, user_id: str) -> Response:
        if user_id != USER["id"]:
            return json_response(
                {"errors": [{"detail": f"Could not find user with id: [{user_id}].", "title": "Not Found Error"}]}
            )
        wanted = request.args.get("max_results", "10")
        if not wanted.isdigit() or not 5 <= int(wanted) <= 100:
            return _invalid("max_results", wanted, "The `max_results` query parameter value is not between 5 and 100")
        since = _instant(request.args.get("start_time"))
        if since is None:
            return _invalid("start_time", request.args.get("start_time", ""), "Invalid start_time")
        fields = request.args.get("tweet.fields", "").split(",")
        with self.lock:
            found = [t for t in reversed(self.tweets) if t.created_at >= since][: int(wanted)]
        data = [_tweet_json(tweet, "created_at" in fields) for tweet in found]
        meta = {"result_count": len(data)} | ({"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]} if data else {})
        return json_response(({"data": data} if data else {}) | {"meta": meta})


def _text_problem(text: str, has_media: bool) -> Response | None:
    if not text:
        return None if has_media else _invalid("text", "", "The text field is required when no media is attached")
    parsed = parse_tweet(text)
    if parsed.weightedLength > 280:
        return _invalid("text", text, TOO_LONG)
    if not parsed.valid:
        return _invalid("text", text, "The text holds characters X does not allow")
    return None


def _shown(text: str, media_ids: list[str]) -> str:
    """The text as X returns it: each URL a t.co link, a link to the media appended, & < > escaped."""
    parts, start = [], 0
    for url in extract_urls_with_indices(text):
        begin, end = url["indices"]
        parts += [html.escape(text[start:begin], quote=False), _tco(url["url"])]
        start = end
    parts.append(html.escape(text[start:], quote=False))
    media = f" {_tco(','.join(media_ids))}" if media_ids else ""
    return "".join(parts).strip() + media


def _tco(value: str) -> str:
    return "https://t.co/" + hashlib.sha256(value.encode()).hexdigest()[:10]


def _tweet_json(tweet: Tweet, created_at: bool) -> dict[str, Any]:
    data = {"id": tweet.id, "text": tweet.shown, "edit_history_tweet_ids": [tweet.id]}
    if created_at:
        data["created_at"] = tweet.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return data


def _instant(value: str | None) -> dt.datetime | None:
    if value is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _image_kind(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for kind, marks in SIGNATURES.items() if data.startswith(marks)), None)


def _invalid(parameter: str, value: str, message: str) -> Response:
    error = {"parameters": {parameter: [value]}, "message": message}
    return json_response(
        {
            "errors": [error],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        400,
    )


def _reset_epoch(fault: Fault) -> int:
    """X's wait signal: the epoch second the window reopens, from the fault's seconds or HTTP-date."""
    value = fault.retry_after or str(int(fault.seconds) or 1)
    if value.isdigit():
        return math.ceil(time.time() + int(value))
    return math.ceil(email.utils.parsedate_to_datetime(value).timestamp())
