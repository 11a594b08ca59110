"""X (API v2) with an OAuth 2 user token: images through /2/media/upload, then POST /2/tweets.

The access/refresh pair lives in the shared token cache, seeded from the configured credentials; a
401 refreshes once (X rotates refresh tokens, so the new one is stored) and the call is repeated once.

X has no idempotency key. Before POST /2/tweets the attempt is marked "sending"; when its answer is
lost (or a 5xx comes back), the account's recent tweets are read back and matched on the text without
its links (X shows t.co links and appends a media link). A later attempt reads back before posting
again, and X's duplicate-content 403 is the second guard: it ends in `reconcile`.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from twitter_text import extract_urls_with_indices  # type: ignore[import-untyped, unused-ignore]

from ..compose import counting
from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt, Token
from .base import ChannelReport, Limits, Progress, Publisher
from .http import wait_hint
from .tokens import OAuthPair

TOKEN_PATH = "/2/oauth2/token"
MAX_BYTES = 5_000_000
MAX_ALT = 1000  # characters of alt text media/metadata takes
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
MAX_POLLS = 20  # media processing checks before giving up for this attempt
LOOKBACK = dt.timedelta(minutes=5)  # X's clock and ours may disagree
MEDIA_MARGIN = dt.timedelta(hours=1)  # re-upload media this long before X would forget it
RATE_HEADERS = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
TCO = re.compile(r"https://t\.co/\w+")
# Progress keys: the planned state of the tweet ("sending", "refused" or its id) and the first try.
POST, FIRST_TRY = "x_post", "x_first_post_at"


class XPublisher(Publisher):
    type = "x"
    idempotent = False
    limits = Limits(max_chars=280, max_images=4)
    default_base_url = "https://api.x.com"

    def check(self, variant: Variant) -> list[str]:
        weighted = counting.x_length(variant.text)
        problems = [f"{weighted} weighted characters; the limit is 280"] if weighted > 280 else []
        problems += [f"the character {c!r} makes a post invalid" for c in counting.x_valid_chars(variant.text)]
        if len(variant.cards) > 4:
            problems.append(f"{len(variant.cards)} images; the limit is 4")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        media_ids = [self._media(card, i, progress) for i, card in enumerate(delivery.variant.cards)]
        if progress.get(POST) == "sending":  # an earlier attempt's tweet may have gone out
            found = self.read_back(delivery, progress)
            if found is not None:
                return found
        return self._tweet(delivery, media_ids, progress)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        state, since = progress.get(POST), progress.get(FIRST_TRY)
        if state not in (None, "sending", "refused"):
            return _receipt(str(state))
        if since is None:  # POST /2/tweets was never sent
            return None
        return self._find(delivery.variant.text, dt.datetime.fromisoformat(since) - LOOKBACK)

    def verify(self) -> ChannelReport:
        limits = {"max_chars": 280, "max_images": 4, "max_image_bytes": MAX_BYTES}
        try:
            response = self._ok(self._call("GET", "/2/users/me"))
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc), limits)
        user = response.json()["data"]
        return ChannelReport(self.name, True, f"authorized as @{user['username']}", limits, _quota(response.headers))

    # -- the tweet ---------------------------------------------------------------------------

    def _tweet(self, delivery: Delivery, media_ids: list[str], progress: Progress) -> Receipt:
        body = tweet_body(delivery.variant, media_ids)
        progress.update({FIRST_TRY: progress.get(FIRST_TRY) or self.services.clock.now().isoformat(), POST: "sending"})
        try:
            response = self._call("POST", "/2/tweets", create=True, json=body)
        except OutcomeUnknown as exc:
            return self.settle(delivery, progress, exc)
        except PublishError:  # never sent (no connection, token refused): nothing was posted
            progress.put(POST, "refused")
            raise
        if response.status_code == 201:
            tweet_id = str(response.json()["data"]["id"])
            progress.put(POST, tweet_id)
            return _receipt(tweet_id)
        return self._refused(delivery, progress, response)

    def _refused(self, delivery: Delivery, progress: Progress, response: requests.Response) -> Receipt:
        error = self._error(response, create=True)
        if isinstance(error, OutcomeUnknown):  # a 5xx, or X's duplicate-content 403
            return self.settle(delivery, progress, error, retry=response.status_code >= 500)
        progress.put(POST, "refused")  # a definite no: nothing was posted
        raise error

    def _find(self, text: str, since: dt.datetime) -> Receipt | None:
        user_id = self._ok(self._call("GET", "/2/users/me")).json()["data"]["id"]
        stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = {"max_results": "5", "start_time": stamp, "tweet.fields": "created_at"}
        tweets = self._ok(self._call("GET", f"/2/users/{user_id}/tweets", params=query)).json().get("data", [])
        wanted = _bare(text, _url_spans(text))
        for tweet in tweets:
            shown = html.unescape(tweet["text"])  # X escapes & < > in the text it returns
            if _bare(shown, [m.span() for m in TCO.finditer(shown)]) == wanted:
                return _receipt(str(tweet["id"]))
        return None

    # -- media -------------------------------------------------------------------------------

    def _media(self, card: Card, index: int, progress: Progress) -> str:
        """An uploaded card's id, saved with the time X forgets it (a later attempt may come days later)."""
        key, now = f"x_media_{index}", self.services.clock.now()
        saved, until = progress.get(key), progress.get(f"{key}_until")
        if saved is not None and until is not None and dt.datetime.fromisoformat(until) > now:
            return saved
        media_id, lifetime = self._upload(card)
        self._describe(media_id, card.alt)
        until = (now + dt.timedelta(seconds=lifetime) - MEDIA_MARGIN).isoformat()
        progress.update({key: media_id, f"{key}_until": until})
        return media_id

    def _upload(self, card: Card) -> tuple[str, int]:
        kind = MEDIA_TYPES.get(card.path.suffix.lower())
        if kind is None:
            raise ContentRejected(self.name, f"{card.path.name}: X takes PNG, JPEG or WebP cards")
        files = {"media": (card.path.name, self.card_bytes(card), kind)}
        form = {"media_category": "tweet_image", "media_type": kind}
        data = self._ok(self._call("POST", "/2/media/upload", files=files, data=form)).json()["data"]
        self._await_processing(str(data["id"]), data.get("processing_info"))
        return str(data["id"]), int(data.get("expires_after_secs", 86400))

    def _await_processing(self, media_id: str, info: dict[str, Any] | None) -> None:
        for _ in range(MAX_POLLS):
            state = (info or {}).get("state", "succeeded")
            if state == "succeeded":
                return
            if state == "failed":
                raise ContentRejected(self.name, f"X could not process media {media_id}", str(info))
            self.services.clock.sleep(float(info.get("check_after_secs", 1)) if info else 1.0)
            query = {"command": "STATUS", "media_id": media_id}
            info = self._ok(self._call("GET", "/2/media/upload", params=query)).json()["data"].get("processing_info")
        raise TemporaryError(self.name, f"media {media_id} is still processing")

    def _describe(self, media_id: str, alt: str) -> None:
        body = {"id": media_id, "metadata": {"alt_text": {"text": alt[:MAX_ALT]}}}
        self._ok(self._call("POST", "/2/media/metadata", json=body))

    # -- tokens and requests -----------------------------------------------------------------

    def _call(self, method: str, path: str, *, create: bool = False, **kwargs: Any) -> requests.Response:
        """One request with the user token; a 401 refreshes the token once and repeats the request once."""
        token = self._token()
        response = self._send(method, path, token, create, **kwargs)
        if response.status_code == 401:
            response = self._send(method, path, self._refresh(token), create, **kwargs)
        return response

    def _send(self, method: str, path: str, token: Token, create: bool, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token.value}"}
        return self.api.request(method, path, create=create, headers=headers, **kwargs)

    @property
    def _pair(self) -> OAuthPair:
        refresh = self.secret("refresh_token") if "refresh_token" in self.config.credentials else ""
        return OAuthPair(self.services.tokens, self._key, self.secret("access_token"), refresh, self._refreshed)

    def _token(self) -> Token:
        return self._pair.current()

    def _refresh(self, stale: Token) -> Token:
        return self._pair.refreshed(stale)

    def _refreshed(self, current: Token) -> Token:
        if not current.extra.get("refresh") or not self.option("client_id"):
            raise AuthError(self.name, "the token expired; refreshing needs a refresh_token and options.client_id")
        form = {"grant_type": "refresh_token", "refresh_token": current.extra["refresh"]}
        auth = None
        if "client_secret" in self.config.credentials:  # a confidential client: Basic auth
            auth = (self.option("client_id"), self.secret("client_secret"))
        else:  # a public client names itself in the body
            form["client_id"] = self.option("client_id")
        response = self.api.request("POST", TOKEN_PATH, data=form, auth=auth)
        if response.status_code in (400, 401):
            raise AuthError(self.name, "X refused the refresh token: authorize the app again", response.text)
        body = self._ok(response).json()
        expires = self.services.clock.now() + dt.timedelta(seconds=int(body.get("expires_in", 7200)))
        pair = {"refresh": str(body.get("refresh_token") or current.extra["refresh"]), "seed": current.extra["seed"]}
        return Token(str(body["access_token"]), expires, extra=pair)

    @property
    def _key(self) -> str:
        return f"x:{self.name}"

    # -- errors ------------------------------------------------------------------------------

    def _ok(self, response: requests.Response) -> requests.Response:
        if 200 <= response.status_code < 300:
            return response
        raise self._error(response, create=False)

    def _error(self, response: requests.Response, *, create: bool) -> PublishError:
        """X's answers by status and problem type (never by message, except the duplicate detail)."""
        status, body = response.status_code, _json(response)
        where = f"{response.request.method} {_path(response)} answered {status}"
        if status == 400:
            return ContentRejected(self.name, f"{where}: {_message(body)}", response.text)
        if status == 401:
            return AuthError(self.name, f"{where}: the token was refused after a refresh", response.text)
        if status == 403 and "duplicate" in str(body.get("detail", "")).lower():
            return OutcomeUnknown(self.name, f"{where}: duplicate content; an earlier attempt may have posted it")
        if status == 403:
            return AuthError(self.name, f"{where}: the app, its plan or the account lacks access", response.text)
        if status == 429:
            return TemporaryError(self.name, f"{where}: {_message(body)}", _rate_wait(response.headers))
        return self.api.status_error(response, create=create)


def tweet_body(variant: Variant, media_ids: Sequence[str]) -> dict[str, Any]:
    """POST /2/tweets's body: the text, and the cards by the ids media/upload returned."""
    body: dict[str, Any] = {"text": variant.text}
    if media_ids:
        body["media"] = {"media_ids": list(media_ids)}
    return body


def _receipt(tweet_id: str) -> Receipt:
    return Receipt(tweet_id, f"https://x.com/i/web/status/{tweet_id}")


def _url_spans(text: str) -> list[tuple[int, int]]:
    return [(url["indices"][0], url["indices"][1]) for url in extract_urls_with_indices(text)]


def _bare(text: str, spans: list[tuple[int, int]]) -> str:
    """Text without its links, whitespace collapsed: what survives X's t.co rewriting."""
    kept, start = [], 0
    for begin, end in sorted(spans):
        kept.append(text[start:begin])
        start = end
    kept.append(text[start:])
    return " ".join(unicodedata.normalize("NFC", " ".join(kept)).split())


def _rate_wait(headers: Mapping[str, str]) -> float | None:
    """The latest reset among the exhausted windows (15-minute, per-user and per-app daily caps)."""
    waits = [
        wait_hint({"x-rate-limit-reset": headers[f"{prefix}-reset"]})
        for prefix in RATE_HEADERS
        if headers.get(f"{prefix}-remaining") == "0" and f"{prefix}-reset" in headers
    ]
    found = [wait for wait in waits if wait is not None]
    return max(found) if found else wait_hint(headers)


def _quota(headers: Mapping[str, str]) -> str | None:
    remaining, limit = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-limit")
    return f"{remaining} of {limit} users/me requests left in this 15-minute window" if remaining and limit else None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and errors[0].get("message"):
        return str(errors[0]["message"])
    return str(body.get("detail") or body.get("title") or "refused")


def _path(response: requests.Response) -> str:
    url = response.request.url or ""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
