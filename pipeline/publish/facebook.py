"""Facebook Pages (Graph API): a post with its photos on one Page (../shared/api-contracts.md §7).

One photo: POST /{page}/photos with published=true makes the post. Several: each photo is uploaded
unpublished (its id saved at once, so a retry does not upload it again), then POST /{page}/feed
attaches them. No photo: /feed with the message. Every photo carries its alt text (alt_text_custom).

Graph has no idempotency, but a Page's published posts can be read back, so no create is re-sent
blind. Before the first create, the ids of recent posts that already carry the same message are
saved (`prior_posts`: last week's identical post is not this one). After a create that got no clear
answer the latest posts are read: a new post with the message is this delivery's; none means it
did not go out, and the next attempt reads back once more before it creates again.

Page tokens made from a long-lived user token do not expire and cannot be refreshed here: a
refused token (190, permissions, a policy block) pauses the channel.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt
from .base import ChannelReport, Progress, Publisher
from .http import wait_hint

TRANSIENT = frozenset({1, 2})
RATE = frozenset({4, 17, 32, 613, 80001})
AUTH = frozenset({10, 190, 368, *range(200, 300)})
INVALID, DUPLICATE = 100, 506
SETTLE = 60.0  # seconds before reading back again when a create got no answer and no post showed
HOUR = 3600.0
USAGE = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage")
LIMITS = {"photo_bytes_recommended": 4_000_000, "png_bytes_recommended": 1_000_000}


class DuplicatePost(OutcomeUnknown):
    """Graph's 506: the same message is already on the Page; reconcile tells whose it is."""


class FacebookPublisher(Publisher):
    type = "facebook"
    idempotent = False
    default_base_url = "https://graph.facebook.com"

    @property
    def page(self) -> str:
        return self.option("page_id")

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        if post_id := progress.get("post_id"):
            return self._receipt(post_id)
        if progress.get("unanswered") and (found := self.reconcile(delivery, progress)):
            return found
        text = delivery.variant.text
        progress.once("prior_posts", lambda: " ".join(p["id"] for p in self._latest() if _same(p, text)))
        try:
            post_id = self._create(delivery.variant, progress)
        except DuplicatePost:
            raise
        except OutcomeUnknown as exc:
            progress.put("unanswered", "yes")  # later attempts read back before sending
            return self.settle(delivery, progress, exc, wait=SETTLE)
        progress.put("post_id", post_id)
        return self._receipt(post_id)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """A post among the Page's latest with this message that was not there before the first create."""
        prior = progress.get("prior_posts")
        if prior is None:  # no create was attempted
            return None
        for post in self._latest():
            if _same(post, delivery.variant.text) and post["id"] not in prior.split():
                post_id = str(post["id"])
                return Receipt(post_id, post.get("permalink_url") or _fallback_url(post_id))
        return None

    def verify(self) -> ChannelReport:
        try:
            response = self._request("GET", self.page, params={"fields": "id,name"})
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc), LIMITS)
        page = _json(response)
        return ChannelReport(self.name, True, f"Page {page.get('name')!r} ({page.get('id')})", LIMITS, _usage(response))

    def _create(self, variant: Variant, progress: Progress) -> str:
        """The post's id: a published photo with its caption, or a feed post with its photos attached."""
        photos = [self._uploaded(progress, i, card) for i, card in enumerate(photos_first(variant))]
        edge, fields, files = post_form(variant, photos)
        reply = self._graph("POST", f"{self.page}/{edge}", create=True, data=_form(fields), files=self._files(files))
        return str(reply["post_id" if edge == "photos" else "id"])

    def _uploaded(self, progress: Progress, index: int, card: Card) -> str:
        """An unpublished photo's id, uploaded once per delivery; one orphaned by a failure is harmless."""
        return progress.once(f"photo_{index}", lambda: self._upload(card))

    def _upload(self, card: Card) -> str:
        fields, files = photo_form(card)
        return str(self._graph("POST", f"{self.page}/photos", data=fields, files=self._files(files))["id"])

    def _receipt(self, post_id: str) -> Receipt:
        try:
            url = self._graph("GET", post_id, params={"fields": "permalink_url"}).get("permalink_url")
        except PublishError:  # the post is out: a missing link is no failure
            url = None
        return Receipt(post_id, url if isinstance(url, str) else _fallback_url(post_id))

    def _latest(self) -> list[dict[str, Any]]:
        params = {"fields": "id,message,created_time,permalink_url", "limit": "10"}
        data = self._graph("GET", f"{self.page}/published_posts", params=params).get("data")
        return [post for post in data if isinstance(post, dict) and "id" in post] if isinstance(data, list) else []

    def _files(self, cards: dict[str, Card]) -> dict[str, tuple[str, bytes, str]]:
        return {name: (c.path.name, self.card_bytes(c), _mime(c)) for name, c in cards.items()}

    def _graph(self, method: str, path: str, *, create: bool = False, **kwargs: Any) -> dict[str, Any]:
        return _json(self._request(method, path, create=create, **kwargs))

    def _request(self, method: str, path: str, *, create: bool = False, **kwargs: Any) -> requests.Response:
        """One Graph call on the pinned version; the token goes in the body of a POST, never in its URL."""
        token = {"access_token": self.secret("page_access_token")}
        place = "data" if method == "POST" else "params"
        kwargs[place] = {**kwargs.get(place, {}), **token}
        route = f"/{self.option('graph_version', 'v25.0')}/{path}"
        response = self.api.request(method, route, create=create, **kwargs)
        if response.ok and "error" not in _json(response):
            return response
        raise self._refusal(f"{method} {route}", response, create=create)

    def _refusal(self, where: str, response: requests.Response, *, create: bool) -> PublishError:
        error = _json(response).get("error")
        error = error if isinstance(error, dict) else {}
        code, subcode = error.get("code"), error.get("error_subcode")
        what = f"{where} answered {response.status_code}: code {code}/{subcode}: {error.get('message', '')}"
        if code in RATE:
            return TemporaryError(self.name, f"{what} (rate limited)", usage_wait(response.headers))
        if code in AUTH:
            return AuthError(self.name, f"{what}; the Page token or its permissions need a person")
        if code == DUPLICATE:
            return DuplicatePost(self.name, what)
        if code == INVALID:
            return ContentRejected(self.name, what)
        if code in TRANSIENT or error.get("is_transient") is True or response.status_code >= 500:
            return OutcomeUnknown(self.name, what) if create else TemporaryError(self.name, what)
        return self.api.status_error(response, create=create, message=str(error.get("message", "")))


def photos_first(variant: Variant) -> tuple[Card, ...]:
    """The cards uploaded as unpublished photos before the post: all of them, unless one alone is the post."""
    return () if len(variant.cards) == 1 else variant.cards


def post_form(variant: Variant, photo_ids: Sequence[str]) -> tuple[str, dict[str, Any], dict[str, Card]]:
    """The edge, fields and files that make the post: one card is a published photo with its caption;
    any other number, a feed post with the unpublished photos of `photos_first` attached by their ids."""
    if len(variant.cards) == 1:
        card = variant.cards[0]
        return "photos", {"message": variant.text, "published": "true", "alt_text_custom": card.alt}, {"source": card}
    ids = zip(photo_ids, variant.cards, strict=True)
    attached = {f"attached_media[{i}]": {"media_fbid": photo_id} for i, (photo_id, _) in enumerate(ids)}
    return "feed", {"message": variant.text} | attached, {}


def photo_form(card: Card) -> tuple[dict[str, str], dict[str, Card]]:
    """An unpublished photo's upload, with its alt text."""
    return {"published": "false", "alt_text_custom": card.alt}, {"source": card}


def _form(fields: dict[str, Any]) -> dict[str, str]:
    """Form values: strings as they are, objects as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in fields.items()}


def _mime(card: Card) -> str:
    return mimetypes.guess_type(card.path.name)[0] or "application/octet-stream"


def usage_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until the Page may call again: the business-use-case estimate (minutes), else an hour
    when any usage header is at 100 %, else Retry-After."""
    minutes = [
        entry.get("estimated_time_to_regain_access", 0)
        for entries in _header(headers, USAGE[0]).values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    longest = max((m for m in minutes if isinstance(m, int | float)), default=0)
    if longest > 0:
        return float(longest) * 60
    if any(_full(_header(headers, name)) for name in USAGE[1:]):
        return HOUR
    return wait_hint(headers)


def _full(usage: dict[str, Any]) -> bool:
    return any(isinstance(value, int | float) and value >= 100 for value in usage.values())


def _header(headers: Mapping[str, str], name: str) -> dict[str, Any]:
    try:
        value = json.loads(headers.get(name) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _usage(response: requests.Response) -> str | None:
    found = [f"{name}: {response.headers[name]}" for name in USAGE if name in response.headers]
    return "; ".join(found) or None


def _same(post: dict[str, Any], text: str) -> bool:
    message = post.get("message")
    return isinstance(message, str) and message.strip() == text.strip()


def _fallback_url(post_id: str) -> str:
    return f"https://www.facebook.com/{post_id}"


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
