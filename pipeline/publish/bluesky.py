"""Bluesky / AT Protocol (../shared/api-contracts.md §5): a cached session, blobs, one record with a fixed rkey.

The record key is a TID planned and saved before the first attempt. Every later attempt reads that
key back first (getRecord: 200 means it is already posted) and only then creates it, with the very
same record, so a retry can never make a second post: this channel is idempotent.

The session (access and refresh JWTs) is shared through the token cache, because createSession is
limited to 30 per 5 minutes: an expired access token is refreshed, and only if that fails is a new
session created.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import mimetypes
import random
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests

from ..compose.counting import bluesky_length
from ..errors import AuthError, PublishError
from ..model import Card, Variant
from ..records import Delivery, Receipt, Token
from .base import ChannelReport, Limits, Progress, Publisher

POST = "app.bsky.feed.post"
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
MAX_GRAPHEMES, MAX_BYTES, MAX_IMAGES, BLOB_MAX = 300, 3000, 4, 1_000_000
SESSION_LIFETIME = dt.timedelta(hours=2)  # when the access JWT's own expiry cannot be read
STALE = {"ExpiredToken", "InvalidToken"}  # the session needs renewing
REFUSED = STALE | {"AuthenticationRequired", "AccountTakedown", "AccountDeactivated", "AuthFactorTokenRequired"}


class BlueskyPublisher(Publisher):
    type = "bluesky"
    idempotent = True
    limits = Limits(max_chars=MAX_GRAPHEMES, max_images=MAX_IMAGES)
    default_base_url = "https://bsky.social"

    def check(self, variant: Variant) -> list[str]:
        graphemes, size = bluesky_length(variant.text)
        problems = []
        if graphemes > MAX_GRAPHEMES:
            problems.append(f"{graphemes} graphemes; the limit is {MAX_GRAPHEMES}")
        if size > MAX_BYTES:
            problems.append(f"{size} UTF-8 bytes; the limit is {MAX_BYTES}")
        if len(variant.cards) > MAX_IMAGES:
            problems.append(f"{len(variant.cards)} images; the limit is {MAX_IMAGES}")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        retry = progress.get("rkey") is not None
        rkey = progress.once("rkey", lambda: tid(self.services.clock.now(), random.randrange(1024)))
        if retry and (receipt := self.reconcile(delivery, progress)) is not None:
            return receipt  # an earlier attempt created it
        blobs = [self._blob(card) for card in delivery.variant.cards]
        did = self._did()
        body = create_body(did, rkey, post_record(delivery.variant, tid_time(rkey), blobs))
        created = self._json(self._xrpc("POST", "com.atproto.repo.createRecord", create=True, json=body), create=True)
        return Receipt(created["uri"], post_url(did, rkey))

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """getRecord with the saved rkey: 200 → posted, 400 RecordNotFound → not posted."""
        rkey = progress.get("rkey")
        if rkey is None:
            return None
        did = self._did()
        params = {"repo": did, "collection": POST, "rkey": rkey}
        response = self._xrpc("GET", "com.atproto.repo.getRecord", params=params)
        if response.status_code == 400 and _error_name(response) == "RecordNotFound":
            return None
        return Receipt(self._json(response)["uri"], post_url(did, rkey))

    def verify(self) -> ChannelReport:
        try:
            response = self._xrpc("GET", "com.atproto.server.getSession")
            session = self._json(response)
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc))
        limits = {
            "max_graphemes": MAX_GRAPHEMES,
            "max_bytes": MAX_BYTES,
            "max_images": MAX_IMAGES,
            "max_blob_bytes": BLOB_MAX,
        }
        return ChannelReport(self.name, True, f"session for {session['did']}", limits, _quota(response))

    # -- blobs ---------------------------------------------------------------------------------

    def _blob(self, card: Card) -> Any:
        """Uploaded on every attempt: the PDS drops unreferenced blobs, and the same bytes give the same ref."""
        mime = mimetypes.guess_type(card.path.name)[0] or "application/octet-stream"
        response = self._xrpc(
            "POST", "com.atproto.repo.uploadBlob", data=self.card_bytes(card), headers={"Content-Type": mime}
        )
        return self._json(response)["blob"]

    # -- session -------------------------------------------------------------------------------

    def _xrpc(self, method: str, nsid: str, *, create: bool = False, **kwargs: Any) -> requests.Response:
        """One call with the session; an expired or invalid access token is renewed and the call sent once more."""
        token = self._session()
        response = self._send(method, nsid, token, create, **kwargs)
        if response.status_code in (400, 401) and _error_name(response) in STALE:
            response = self._send(method, nsid, self._session(refused=token), create, **kwargs)
        return response

    def _send(self, method: str, nsid: str, token: Token, create: bool, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {}) | {"Authorization": f"Bearer {token.value}"}
        return self.api.request(method, f"/xrpc/{nsid}", create=create, headers=headers, **kwargs)

    def _did(self) -> str:
        return self._session().account or ""

    def _session(self, refused: Token | None = None) -> Token:
        """The shared session; a new one when it is about to expire or the server refused `refused`."""
        now = self.services.clock.now()

        def good(token: Token | None) -> bool:
            fresh = refused is None or token is None or token.value != refused.value
            return token is not None and fresh and token.usable(now)

        return self.services.tokens.renew(f"bluesky:{self.secret('identifier')}", good, self._new_session)

    def _new_session(self, current: Token | None) -> Token:
        """refreshSession with the refresh JWT; if the server refuses it, createSession once."""
        if current is not None and (refresh := current.extra.get("refresh")):
            headers = {"Authorization": f"Bearer {refresh}"}
            response = self.api.request("POST", "/xrpc/com.atproto.server.refreshSession", headers=headers)
            if response.status_code == 200:
                return self._token(response.json())
            if response.status_code not in (400, 401):
                raise self._error(response, create=False)  # rate limited or down: not a refusal
        credentials = {"identifier": self.secret("identifier"), "password": self.secret("password")}
        response = self.api.request("POST", "/xrpc/com.atproto.server.createSession", json=credentials)
        return self._token(self._json(response))

    def _token(self, session: dict[str, Any]) -> Token:
        access = str(session["accessJwt"])
        expires = jwt_expiry(access) or self.services.clock.now() + SESSION_LIFETIME
        return Token(access, expires, str(session["did"]), {"refresh": str(session["refreshJwt"])})

    # -- replies -------------------------------------------------------------------------------

    def _json(self, response: requests.Response, *, create: bool = False) -> Any:
        if response.status_code != 200:
            raise self._error(response, create=create)
        return response.json()

    def _error(self, response: requests.Response, *, create: bool) -> PublishError:
        """Session errors pause the channel; 429 waits for RateLimit-Reset; 5xx on createRecord may have
        posted (the fixed rkey makes the retry safe); InvalidRequest and the rest are permanent."""
        name = _error_name(response)
        message = f"{name}: {_error_message(response)}" if name else ""
        if name in REFUSED:
            where = f"{response.request.method} {urlsplit(response.request.url or '').path}"
            return AuthError(self.name, f"{where} answered {response.status_code}: {message}", response.text)
        return self.api.status_error(response, create=create, message=message)


def post_record(variant: Variant, created_at: str, blobs: Sequence[Any]) -> dict[str, Any]:
    """The post record, the same on every attempt (`created_at` is the rkey's own time), its cards
    embedded by the blobs uploadBlob returned."""
    record: dict[str, Any] = {"$type": POST, "text": variant.text, "createdAt": created_at, "langs": [variant.lang]}
    if variant.extra.get("facets"):
        record["facets"] = variant.extra["facets"]  # compose made them, UTF-8 byte-indexed
    if variant.cards:
        images = [_image(card, blob) for card, blob in zip(variant.cards, blobs, strict=True)]
        record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
    return record


def create_body(repo: str, rkey: str, record: dict[str, Any]) -> dict[str, Any]:
    """createRecord's body: the record under its planned rkey in the account's repo (its DID)."""
    return {"repo": repo, "collection": POST, "rkey": rkey, "record": record}


def _image(card: Card, blob: Any) -> dict[str, Any]:
    return {"alt": card.alt, "image": blob, "aspectRatio": {"width": card.width, "height": card.height}}


def tid(moment: dt.datetime, clock_id: int) -> str:
    """A TID: 11 base32-sortable chars of microseconds since the epoch, then 2 of the clock id."""
    micros = (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return _s32(micros, 11) + _s32(clock_id % 1024, 2)


def tid_time(key: str) -> str:
    """The instant a TID was made, as createdAt: ISO-8601 with milliseconds and a trailing Z."""
    micros = 0
    for char in key[:11]:
        micros = micros * 32 + TID_CHARS.index(char)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _s32(value: int, width: int) -> str:
    chars = ""
    while value:
        value, digit = divmod(value, 32)
        chars = TID_CHARS[digit] + chars
    return chars.rjust(width, TID_CHARS[0])


def jwt_expiry(token: str) -> dt.datetime | None:
    """The `exp` claim of a JWT, read without verifying it (only to know when to renew)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def post_url(did: str, rkey: str) -> str:
    """The post's web address; the DID, unlike a handle, never changes."""
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def _error_name(response: requests.Response) -> str:
    return str(_body(response).get("error") or "")


def _error_message(response: requests.Response) -> str:
    return str(_body(response).get("message") or "")


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _quota(response: requests.Response) -> str | None:
    remaining = response.headers.get("RateLimit-Remaining")
    if remaining is None:
        return None
    policy = response.headers.get("RateLimit-Policy")
    return f"{remaining} of {response.headers.get('RateLimit-Limit', '?')} left" + (f" ({policy})" if policy else "")
