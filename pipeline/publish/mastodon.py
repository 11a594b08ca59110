"""Mastodon (../shared/api-contracts.md §3): media v2 uploads, then one status with an Idempotency-Key.

The key is planned and saved before the first POST /api/v1/statuses and sent on every retry, so a
repeat within the server's one-hour window returns the original status: this channel is idempotent.
A retry later than that reads the account's recent statuses first and matches the text, so even a
retry after a long outage never posts twice.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import mimetypes
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from ..compose.counting import mastodon_length
from ..errors import AuthError, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt
from .base import ChannelReport, Limits, Progress, Publisher

KEY_WINDOW = dt.timedelta(minutes=55)  # the server keeps a key for 1 h; less a margin for clock skew
CLOCK_SKEW = dt.timedelta(minutes=5)  # how far the server's created_at may run behind our clock
MAX_CHARS, MAX_MEDIA = 500, 4
MEDIA_POLLS, MEDIA_POLL_SECONDS = 10, 1.0
PROCESSING = "not finished processing"


class MastodonPublisher(Publisher):
    type = "mastodon"
    idempotent = True
    limits = Limits(max_chars=MAX_CHARS, max_images=MAX_MEDIA)
    default_base_url = "https://mastodon.social"

    def check(self, variant: Variant) -> list[str]:
        """The default instance's limits; an instance may allow more (see verify())."""
        problems = []
        if (length := mastodon_length(variant.text)) > MAX_CHARS:
            problems.append(f"{length} characters as Mastodon counts; the limit is {MAX_CHARS}")
        if len(variant.cards) > MAX_MEDIA:
            problems.append(f"{len(variant.cards)} images; the limit is {MAX_MEDIA}")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        variant = delivery.variant
        media_ids = [self._media(card, index, progress) for index, card in enumerate(variant.cards)]
        now = self.services.clock.now()
        if progress.get("idempotency_key") is None:  # planned, and saved, before the first POST
            progress.update({"first_post_attempt": now.isoformat(), "idempotency_key": str(uuid.uuid4())})
        first = dt.datetime.fromisoformat(progress.values["first_post_attempt"])
        key = progress.values["idempotency_key"]
        if now - first > KEY_WINDOW and (receipt := self.reconcile(delivery, progress)) is not None:
            return receipt  # the key may be forgotten: read back before posting again
        return self._post(variant, media_ids, key)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """The status among the account's 20 latest with this text, created after the first attempt."""
        first = progress.get("first_post_attempt")
        if first is None:
            return None  # no status was ever sent
        since = dt.datetime.fromisoformat(first) - CLOCK_SKEW
        account = self._get("/api/v1/accounts/verify_credentials")
        statuses = self._get(f"/api/v1/accounts/{account['id']}/statuses", limit=20, exclude_replies="true")
        wanted = _normal(delivery.variant.text)
        for status in statuses:  # newest first
            if _created(status) >= since and _normal(plain_text(status.get("content") or "")) == wanted:
                return Receipt(str(status["id"]), status.get("url"))
        return None

    def verify(self) -> ChannelReport:
        try:
            account = self._get("/api/v1/accounts/verify_credentials")
            response = self.api.request("GET", "/api/v2/instance", headers=self._auth())
            config = self._json(response)["configuration"]
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc))
        limits = {
            "max_characters": config["statuses"]["max_characters"],
            "max_media_attachments": config["statuses"]["max_media_attachments"],
            "characters_reserved_per_url": config["statuses"]["characters_reserved_per_url"],
            "image_size_limit": config["media_attachments"]["image_size_limit"],
        }
        detail = f"signed in as @{account.get('acct', '?')} (account {account['id']})"
        return ChannelReport(self.name, True, detail, limits, _quota(response))

    # -- media ---------------------------------------------------------------------------------

    def _media(self, card: Card, index: int, progress: Progress) -> str:
        """The card's media id: uploaded once (the id saved at once), then awaited while it processes."""
        saved = progress.get(f"media_{index}")
        if saved is not None:
            return saved  # processed or not, a 422 on posting sends us back to wait for it
        body = self._upload(card)
        progress.put(f"media_{index}", str(body["id"]))
        if body.get("url") is None:
            self._await_media(str(body["id"]))
        return str(body["id"])

    def _upload(self, card: Card) -> dict[str, Any]:
        mime = mimetypes.guess_type(card.path.name)[0] or "application/octet-stream"
        files = {"file": (card.path.name, self.card_bytes(card), mime)}
        # A lost reply leaves at most an unattached upload, which the server removes: retrying is safe.
        response = self.api.request(
            "POST", "/api/v2/media", files=files, data={"description": card.alt}, headers=self._auth()
        )
        return self._json(response, ok=(200, 202))  # type: ignore[no-any-return]

    def _await_media(self, media_id: str) -> None:
        """Poll GET /api/v1/media/:id: 206 while processing, 200 when done."""
        for _ in range(MEDIA_POLLS):
            response = self.api.request("GET", f"/api/v1/media/{media_id}", headers=self._auth())
            if response.status_code == 200:
                return
            if response.status_code != 206:
                raise self._error(response, create=False)
            self.services.clock.sleep(MEDIA_POLL_SECONDS)
        raise TemporaryError(self.name, f"media {media_id} is still processing", MEDIA_POLLS * MEDIA_POLL_SECONDS)

    # -- status --------------------------------------------------------------------------------

    def _post(self, variant: Variant, media_ids: list[str], key: str) -> Receipt:
        response = self._send_status(variant, media_ids, key)
        if _processing(response):
            for media_id in media_ids:
                self._await_media(media_id)
            response = self._send_status(variant, media_ids, key)
            if _processing(response):
                raise TemporaryError(self.name, "the media have still not finished processing", MEDIA_POLL_SECONDS)
        status = self._json(response, create=True)
        return Receipt(str(status["id"]), status.get("url"))

    def _send_status(self, variant: Variant, media_ids: list[str], key: str) -> requests.Response:
        body = status_body(variant, media_ids)
        headers = self._auth() | {"Idempotency-Key": key}
        return self.api.request("POST", "/api/v1/statuses", json=body, headers=headers, create=True)

    # -- replies -------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('access_token')}"}

    def _get(self, path: str, **params: str | int) -> Any:
        return self._json(self.api.request("GET", path, params=params or None, headers=self._auth()))

    def _json(self, response: requests.Response, *, create: bool = False, ok: tuple[int, ...] = (200,)) -> Any:
        if response.status_code not in ok:
            raise self._error(response, create=create)
        return response.json()

    def _error(self, response: requests.Response, *, create: bool) -> PublishError:
        """401 and 403 pause the channel (tokens never expire: nothing to refresh); 422 is permanent;
        429 waits for X-RateLimit-Reset; 5xx on posting may have posted (the key makes a retry safe)."""
        message = _error_text(response)
        if response.status_code == 403:
            where = f"{response.request.method} {urlsplit(response.request.url or '').path}"
            return AuthError(self.name, f"{where} answered 403: {message}", response.text)
        return self.api.status_error(response, create=create, message=message)


def status_body(variant: Variant, media_ids: Sequence[str]) -> dict[str, Any]:
    """POST /api/v1/statuses's body: a public status in the variant's language, with the cards by the
    ids media uploads returned."""
    return {"status": variant.text, "media_ids": list(media_ids), "visibility": "public", "language": variant.lang}


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _processing(response: requests.Response) -> bool:
    return response.status_code == 422 and PROCESSING in _error_text(response)


def _quota(response: requests.Response) -> str | None:
    remaining, limit = response.headers.get("X-RateLimit-Remaining"), response.headers.get("X-RateLimit-Limit")
    if remaining is None:
        return None
    reset = response.headers.get("X-RateLimit-Reset")
    return f"{remaining} of {limit or '?'} requests left" + (f" until {reset}" if reset else "")


def _created(status: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00"))


def _normal(text: str) -> str:
    """Text compared without regard to how whitespace was rendered."""
    return " ".join(text.split())


class _PlainText(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content: str) -> str:
    """A status's HTML content as the text that was posted: paragraphs, line breaks, entities undone."""
    parser = _PlainText()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()
