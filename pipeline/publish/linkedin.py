"""LinkedIn (versioned Posts API): images through initializeUpload + PUT, then POST /rest/posts.

Every call carries the Bearer token, `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`, and
every URN in a path or query is URL-encoded. The commentary is the variant's "little"-format text,
escaped by compose: an unescaped reserved character would make LinkedIn cut the post while answering 201.

There is no idempotency key. A repeated post answers 422 DUPLICATE_POST naming the first one's URN,
which is the receipt. Before POST /rest/posts the attempt is marked "sending"; when its answer is lost
(or a 5xx comes back) the author's recent posts are read back and matched on the commentary, and a
later attempt reads back before posting again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..compose import counting
from ..config import ChannelConfig
from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt, Token
from .base import ChannelReport, Limits, Progress, Publisher
from .http import wait_hint
from .tokens import OAuthPair

DEFAULT_VERSION = "202607"  # July 2026; versions are retired about a year after release
TOKEN_URL = "https://www.linkedin.com/oauth/v2/accessToken"
MAX_CHARS, MAX_IMAGES = 3000, 20
MAX_POLLS = 20  # image status checks (about 35 s in all) before this attempt gives up
DUPLICATE_URN = re.compile(r"urn:li:(?:share|ugcPost):\d+")
ESCAPE = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")
# Progress keys: the post's state ("sending", "refused" or its URN).
POST = "li_post"


class LinkedInPublisher(Publisher):
    type = "linkedin"
    idempotent = False
    limits = Limits(max_chars=MAX_CHARS, max_images=MAX_IMAGES)
    default_base_url = "https://api.linkedin.com"

    def check(self, variant: Variant) -> list[str]:
        length = len(_commentary(variant))
        problems = [f"{length} characters (escaped); the limit is {MAX_CHARS}"] if length > MAX_CHARS else []
        if len(variant.cards) > MAX_IMAGES:
            problems.append(f"{len(variant.cards)} images; the limit is {MAX_IMAGES}")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        images = [self._image_urn(card, i, progress) for i, card in enumerate(delivery.variant.cards)]
        if progress.get(POST) == "sending":  # an earlier attempt's post may have gone out
            found = self.read_back(delivery, progress)
            if found is not None:
                return found
        return self._post(delivery, images, progress)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        state = progress.get(POST)
        if state is not None and state.startswith("urn:"):
            return _receipt(state)
        if state is None:  # POST /rest/posts was never sent
            return None
        return self._find(_commentary(delivery.variant))

    def verify(self) -> ChannelReport:
        limits = {"max_chars": MAX_CHARS, "max_images": MAX_IMAGES}
        try:
            self._ok(self._call("GET", self._posts_query(1)))
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc), limits)
        detail = f"token accepted for {self._author}; LinkedIn-Version {self._version} accepted"
        return ChannelReport(self.name, True, detail, limits, "daily per app and member, reset at midnight UTC")

    # -- the post ----------------------------------------------------------------------------

    def _post(self, delivery: Delivery, images: list[str], progress: Progress) -> Receipt:
        progress.put(POST, "sending")
        try:
            body = post_body(delivery.variant, self.config, images)
            response = self._call("POST", "/rest/posts", create=True, json=body)
        except OutcomeUnknown as exc:
            return self.settle(delivery, progress, exc)
        except PublishError:  # never sent (no connection, token refused): nothing was posted
            progress.put(POST, "refused")
            raise
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if response.status_code == 201 and urn:
            progress.put(POST, urn)
            return _receipt(urn)
        if response.status_code == 201:
            return self.settle(delivery, progress, OutcomeUnknown(self.name, "201 without the post's x-restli-id"))
        return self._refused(delivery, progress, response)

    def _refused(self, delivery: Delivery, progress: Progress, response: requests.Response) -> Receipt:
        if response.status_code == 422 and "DUPLICATE_POST" in response.text:
            return self._duplicate(delivery, progress, response)
        error = self._error(response, create=True)
        if isinstance(error, OutcomeUnknown):  # a 5xx
            return self.settle(delivery, progress, error)
        progress.put(POST, "refused")  # a definite no: nothing was posted
        raise error

    def _duplicate(self, delivery: Delivery, progress: Progress, response: requests.Response) -> Receipt:
        """The same commentary is already up, and LinkedIn names it: that post is this delivery's."""
        urn = DUPLICATE_URN.search(str(_json(response).get("message", "")))
        if urn is not None:
            progress.put(POST, urn[0])
            return _receipt(urn[0])
        error = OutcomeUnknown(self.name, "LinkedIn says the post is a duplicate without naming the first one")
        return self.settle(delivery, progress, error, retry=False)

    def _find(self, commentary: str) -> Receipt | None:
        wanted = _plain(commentary)
        for post in self._ok(self._call("GET", self._posts_query(10))).json().get("elements", []):
            if _plain(str(post.get("commentary", ""))) == wanted and post.get("id"):
                return _receipt(str(post["id"]))
        return None

    def _posts_query(self, count: int) -> str:
        return f"/rest/posts?author={quote(self._author, safe='')}&q=author&count={count}&sortBy=LAST_MODIFIED"

    # -- images ------------------------------------------------------------------------------

    def _image_urn(self, card: Card, index: int, progress: Progress) -> str:
        urn = progress.once(f"li_image_{index}", lambda: self._upload(card))
        self._await_available(urn)
        return urn

    def _upload(self, card: Card) -> str:
        """initializeUpload, then PUT the bytes; an image whose PUT failed is simply never used."""
        body = {"initializeUploadRequest": {"owner": self._author}}
        value = self._ok(self._call("POST", "/rest/images?action=initializeUpload", json=body)).json()["value"]
        url, urn = str(value["uploadUrl"]), str(value["image"])
        if not self._trusted(url):
            raise AuthError(self.name, f"refusing to send the token to the upload host {urlsplit(url).hostname}")
        headers = {"Content-Type": "application/octet-stream"}
        self._ok(self._call("PUT", url, data=self.card_bytes(card), headers=headers))
        return urn

    def _await_available(self, urn: str) -> None:
        for attempt in range(MAX_POLLS):
            image = self._ok(self._call("GET", f"/rest/images/{quote(urn, safe='')}")).json()
            status = str(image.get("status", ""))
            if status == "AVAILABLE":
                return
            if status in ("PROCESSING_FAILED", "FAILED"):
                raise ContentRejected(self.name, f"LinkedIn could not process image {urn} ({status})")
            if attempt + 1 < MAX_POLLS:
                self.services.clock.sleep(min(0.25 * 2**attempt, 2.0))  # most images are ready within a second
        raise TemporaryError(self.name, f"image {urn} is still processing")

    def _trusted(self, url: str) -> bool:
        """Upload URLs go to LinkedIn's hosts (or, in tests and proxies, the configured API host)."""
        host, own = urlsplit(url).hostname or "", urlsplit(self.api.base_url).hostname
        return host == own or (
            url.startswith("https://") and (host == "linkedin.com" or host.endswith(".linkedin.com"))
        )

    # -- tokens and requests -----------------------------------------------------------------

    def _call(self, method: str, path: str, *, create: bool = False, **kwargs: Any) -> requests.Response:
        """One request with the token; a 401 refreshes once (when the app may) and repeats it once."""
        token = self._token()
        response = self._send(method, path, token, create, **kwargs)
        if response.status_code == 401 and self._refreshable:
            response = self._send(method, path, self._refresh(token), create, **kwargs)
        return response

    def _send(self, method: str, path: str, token: Token, create: bool, **kwargs: Any) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {token.value}",
            "LinkedIn-Version": self._version,
            "X-Restli-Protocol-Version": "2.0.0",
        } | kwargs.pop("headers", {})
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
        form = {
            "grant_type": "refresh_token",
            "refresh_token": current.extra["refresh"],
            "client_id": self.option("client_id"),
            "client_secret": self.secret("client_secret"),
        }
        response = self.api.request("POST", self.option("token_url", TOKEN_URL), data=form)
        if response.status_code in (400, 401):
            raise AuthError(self.name, "LinkedIn refused the refresh token: authorize the app again", response.text)
        body = self._ok(response).json()
        expires = self.services.clock.now() + dt.timedelta(seconds=int(body.get("expires_in", 5_184_000)))
        extra = {"refresh": str(body.get("refresh_token") or current.extra["refresh"]), "seed": current.extra["seed"]}
        return Token(str(body["access_token"]), expires, extra=extra)

    @property
    def _refreshable(self) -> bool:
        """Programmatic refresh: only apps LinkedIn enabled for it get a refresh token."""
        return "refresh_token" in self.config.credentials

    @property
    def _key(self) -> str:
        return f"linkedin:{self.name}"

    @property
    def _author(self) -> str:
        return self.option("author")

    @property
    def _version(self) -> str:
        return self.option("version", DEFAULT_VERSION)

    # -- errors ------------------------------------------------------------------------------

    def _ok(self, response: requests.Response) -> requests.Response:
        if 200 <= response.status_code < 300:
            return response
        raise self._error(response, create=False)

    def _error(self, response: requests.Response, *, create: bool) -> PublishError:
        """LinkedIn's answers by status and code (401 INVALID_ACCESS_TOKEN, 403 ACCESS_DENIED, 426, 429)."""
        status, body = response.status_code, _json(response)
        where = f"{response.request.method} {_path(response)} answered {status}"
        what = f"{where}: {body.get('code') or ''} {body.get('message') or ''}".rstrip()
        if status == 401:
            return AuthError(self.name, f"{what}; authorize the app again", response.text)
        if status == 403:
            return AuthError(self.name, f"{what}; the token lacks a scope (w_/r_organization_social) or the page role")
        if status == 426:
            return AuthError(self.name, f"{what}; set options.version to an active LinkedIn-Version (YYYYMM)")
        if status == 429:
            return TemporaryError(self.name, what, wait_hint(response.headers) or self._until_midnight())
        if 400 <= status < 500:
            return ContentRejected(self.name, what, response.text)
        return self.api.status_error(response, create=create)

    def _until_midnight(self) -> float:
        """LinkedIn's daily quotas reset at midnight UTC."""
        now = self.services.clock.now().astimezone(dt.UTC)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        return (midnight - now).total_seconds()


def post_body(variant: Variant, config: ChannelConfig, image_urns: Sequence[str]) -> dict[str, Any]:
    """POST /rest/posts's body: the commentary as the author (options.author), publicly in the main feed,
    with the cards by the image URNs initializeUpload returned, each with its alt text."""
    body: dict[str, Any] = {
        "author": str(config.options.get("author", "")),
        "commentary": _commentary(variant),
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    images = [{"id": urn, "altText": card.alt} for urn, card in zip(image_urns, variant.cards, strict=True)]
    if len(images) == 1:
        body["content"] = {"media": images[0]}
    elif images:
        body["content"] = {"multiImage": {"images": images}}
    return body


def _commentary(variant: Variant) -> str:
    """The little-format commentary compose made (reserved characters escaped), or the text escaped here."""
    commentary = variant.extra.get("commentary")
    return commentary if isinstance(commentary, str) else counting.linkedin_escape(variant.text, keep_hashtags=True)


def _plain(commentary: str) -> str:
    """Commentary without its escapes, as it reads: LinkedIn may answer either form."""
    return ESCAPE.sub(r"\1", commentary).strip()


def _receipt(urn: str) -> Receipt:
    return Receipt(urn, f"https://www.linkedin.com/feed/update/{urn}")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _path(response: requests.Response) -> str:
    url = response.request.url or ""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
