"""A Bluesky PDS as ../shared/api-contracts.md §5 describes it, for one account, posts only.

It enforces sessions (createSession rate-counted, access JWTs that expire with 400 ExpiredToken,
refresh JWTs that stop working once used, after a grace period), blobs uploaded before the record
and checked when the record is created (image/* and the blob size cap), and the post lexicon:
a TID rkey, text ≤ 300 graphemes and ≤ 3000 UTF-8 bytes, ≤ 3 langs, ≤ 4 images each with alt,
facet byte ranges inside the text. An rkey that already exists fails as the reference PDS is
thought to fail (a 500, configurable). Every reply carries RateLimit-* headers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

import regex
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from pipeline.clock import Clock, SystemClock

from .base import Emulator, Fault, json_response
from .mastodon import wall_time

POST = "app.bsky.feed.post"
_TID = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
FEATURES = {"app.bsky.richtext.facet#link", "app.bsky.richtext.facet#tag", "app.bsky.richtext.facet#mention"}


@dataclass
class Refresh:
    session: str  # the session (jti) it belongs to
    expires: float
    used_at: float | None = None


@dataclass
class Blob:
    mime: str
    size: int


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def cid(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32: codec 0x55 raw for blobs ("bafkrei…"), 0x71 dag-cbor for records."""
    digest = bytes([1, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


def _jwt(claims: dict[str, Any], typ: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'typ': typ, 'alg': 'ES256K'})}.{part(claims)}.{secrets.token_urlsafe(48)}"


class BlueskyEmulator(Emulator):
    routes = (
        Rule("/xrpc/com.atproto.server.createSession", endpoint="create_session", methods=["POST"]),
        Rule("/xrpc/com.atproto.server.refreshSession", endpoint="refresh_session", methods=["POST"]),
        Rule("/xrpc/com.atproto.server.getSession", endpoint="get_session", methods=["GET"]),
        Rule("/xrpc/com.atproto.repo.uploadBlob", endpoint="upload_blob", methods=["POST"]),
        Rule("/xrpc/com.atproto.repo.createRecord", endpoint="create_record", methods=["POST"]),
        Rule("/xrpc/com.atproto.repo.getRecord", endpoint="get_record", methods=["GET"]),
    )

    def __init__(self, identifier: str, password: str, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()  # JWT times; rate-limit resets use wall time
        self.handle, self.password = identifier, password
        self.did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
        self.access_lifetime, self.refresh_lifetime = 7200.0, 90 * 86400.0
        self.refresh_grace = 0.0  # seconds an old refresh JWT still works after use [unconfirmed: ≤ 2 h]
        self.blob_max, self.upload_max = 1_000_000, 50_000_000  # blob maxSize [2,000,000 in the 2026 lexicon]
        self.duplicate = (500, "InternalServerError", "Internal Server Error")  # an existing rkey [unconfirmed]
        self.session_limit, self.session_window = 30, 300.0
        self.rate_limit, self.rate_window = 3000, 300
        self.access: dict[str, float] = {}  # access JWT → expiry (epoch seconds by self.clock)
        self.refresh: dict[str, Refresh] = {}
        self.sessions_created: list[float] = []  # wall times of createSession calls that succeeded
        self.blobs: dict[str, Blob] = {}
        self.records: dict[str, dict[str, Any]] = {}  # rkey → {"uri", "cid", "value"}
        self._window: tuple[float, int] = (time.time(), 0)

    # -- what Bluesky says differently -------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return self._reply({"error": "InternalServerError", "message": "Internal Server Error"}, status)

    def rate_limited(self, fault: Fault) -> Response:
        reset = math.ceil(wall_time(fault.retry_after or "1"))
        return self._reply({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, reset=reset)

    def expire_tokens(self) -> None:
        with self.lock:
            self.access = dict.fromkeys(self.access, 0.0)

    # -- endpoints ---------------------------------------------------------------------------

    def create_session(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        with self.lock:
            recent = [t for t in self.sessions_created if t > time.time() - self.session_window]
            if len(recent) >= self.session_limit:
                limit = {"RateLimit-Limit": str(self.session_limit), "RateLimit-Policy": f"{self.session_limit};w=300"}
                error = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
                return self._reply(error, 429, reset=math.ceil(recent[0] + self.session_window), headers=limit)
            if body.get("identifier", "").lower() not in (self.handle.lower(), self.did) or (
                body.get("password") != self.password
            ):
                return self._error(XrpcError(401, "AuthenticationRequired", "Invalid identifier or password"))
            self.sessions_created.append(time.time())
            return self._reply(self._issue())

    def refresh_session(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        now = self.clock.now().timestamp()
        with self.lock:
            found = self.refresh.get(token)
            if found is None:
                return self._error(XrpcError(400, "InvalidToken", "Token could not be verified"))
            if found.expires <= now:
                return self._error(XrpcError(400, "ExpiredToken", "Token has expired"))
            if found.used_at is not None and now >= found.used_at + self.refresh_grace:
                return self._error(XrpcError(400, "ExpiredToken", "Token has been revoked"))
            found.used_at = found.used_at or now
            return self._reply(self._issue())

    def get_session(self, request: Request) -> Response:
        try:
            did = self._session(request)
        except XrpcError as exc:
            return self._error(exc)
        return self._reply({"did": did, "handle": self.handle, "active": True})

    def upload_blob(self, request: Request) -> Response:
        data = request.get_data(cache=True)
        try:
            self._session(request)
            if len(data) > self.upload_max:
                raise XrpcError(413, "PayloadTooLarge", "request entity too large")
        except XrpcError as exc:
            return self._error(exc)
        ref, mime = cid(data, 0x55), request.mimetype or "application/octet-stream"
        with self.lock:
            self.blobs[ref] = Blob(mime, len(data))
        return self._reply({"blob": {"$type": "blob", "ref": {"$link": ref}, "mimeType": mime, "size": len(data)}})

    def create_record(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        try:
            did = self._session(request)
            self._check_target(body, did)
            self._check_record(body.get("record"))
        except XrpcError as exc:
            return self._error(exc)
        with self.lock:
            rkey = body["rkey"]
            if rkey in self.records:
                return self._error(XrpcError(*self.duplicate))
            record = {"uri": f"at://{did}/{POST}/{rkey}", "cid": cid(json.dumps(body["record"]).encode(), 0x71)}
            self.records[rkey] = record | {"value": body["record"]}
        commit = {"cid": cid(rkey.encode(), 0x71), "rev": rkey}
        return self._reply(record | {"commit": commit, "validationStatus": "valid"})

    def get_record(self, request: Request) -> Response:
        args = request.args
        try:
            if "Authorization" in request.headers:
                self._session(request)
            if args.get("repo") not in (self.did, self.handle):
                raise XrpcError(400, "InvalidRequest", f"Could not find repo: {args.get('repo')}")
        except XrpcError as exc:
            return self._error(exc)
        with self.lock:
            found = self.records.get(args.get("rkey", "")) if args.get("collection") == POST else None
        if found is None:
            where = f"at://{self.did}/{args.get('collection')}/{args.get('rkey')}"
            return self._error(XrpcError(400, "RecordNotFound", f"Could not locate record: {where}"))
        return self._reply(found)

    # -- rules -------------------------------------------------------------------------------

    def _session(self, request: Request) -> str:
        """The DID an access JWT speaks for, or the PDS's error."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        with self.lock:
            expires = self.access.get(header.removeprefix("Bearer "))
        if expires is None:
            raise XrpcError(400, "InvalidToken", "Token could not be verified")
        if expires <= self.clock.now().timestamp():
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return self.did

    def _issue(self) -> dict[str, Any]:
        now, session = self.clock.now().timestamp(), secrets.token_hex(8)
        claims = {"sub": self.did, "aud": "did:web:127.0.0.1", "iat": int(now), "jti": session}
        access = _jwt(claims | {"scope": "com.atproto.appPass", "exp": int(now + self.access_lifetime)}, "at+jwt")
        refresh = _jwt(
            claims | {"scope": "com.atproto.refresh", "exp": int(now + self.refresh_lifetime)}, "refresh+jwt"
        )
        self.access[access] = now + self.access_lifetime
        self.refresh[refresh] = Refresh(session, now + self.refresh_lifetime)
        return {"did": self.did, "handle": self.handle, "accessJwt": access, "refreshJwt": refresh, "active": True}

    def _check_target(self, body: dict[str, Any], did: str) -> None:
        if body.get("repo") not in (did, self.handle):
            raise XrpcError(400, "InvalidRequest", f"Could not find repo: {body.get('repo')}")
        if body.get("collection") != POST:
            raise XrpcError(400, "InvalidRequest", "this emulator holds app.bsky.feed.post records only")
        if not _TID.match(str(body.get("rkey", ""))):
            raise XrpcError(400, "InvalidRequest", "Invalid record key: app.bsky.feed.post keys must be TIDs")

    def _check_record(self, record: Any) -> None:
        problem = _post_problem(record) if isinstance(record, dict) else "Record must be an object"
        if problem:
            raise XrpcError(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {problem}")
        for index, image in enumerate((record.get("embed") or {}).get("images", [])):
            self._check_blob(index, image["image"])

    def _check_blob(self, index: int, blob: dict[str, Any]) -> None:
        """Blobs are checked against the upload only now, as the PDS does."""
        ref = str((blob.get("ref") or {}).get("$link"))
        with self.lock:
            found = self.blobs.get(ref)
        if found is None:
            raise XrpcError(400, "BlobNotFound", f"Could not find blob: {ref}")
        if not found.mime.startswith("image/"):
            raise XrpcError(
                400, "InvalidMimeType", f"Wrong type of file. It is {found.mime} but it must match image/*."
            )
        if found.size > self.blob_max:
            message = f"This file is too large. It is {found.size} bytes but the maximum size is {self.blob_max} bytes."
            raise XrpcError(400, "BlobTooLarge", f"Record/embed/images/{index}/image: {message}")

    def _error(self, error: XrpcError) -> Response:
        return self._reply({"error": error.error, "message": error.message}, error.status)

    def _reply(
        self, body: Any, status: int = 200, reset: int | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        """A JSON reply with RateLimit-Limit/Remaining/Reset/Policy (per 5 minutes, as for an IP)."""
        with self.lock:
            start, used = self._window
            if time.time() >= start + self.rate_window:
                start, used = time.time(), 0
            self._window = (start, used + 1)
        limit = {
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Remaining": "0" if status == 429 else str(max(0, self.rate_limit - used - 1)),
            "RateLimit-Reset": str(reset if reset is not None else math.ceil(start + self.rate_window)),
            "RateLimit-Policy": f"{self.rate_limit};w={self.rate_window}",
        }
        return json_response(body, status, limit | (headers or {}))


def _post_problem(record: dict[str, Any]) -> str | None:
    """The first way `record` breaks the app.bsky.feed.post lexicon, or None."""
    text = record.get("text")
    if record.get("$type") != POST:
        return "Record/$type must be app.bsky.feed.post"
    if not isinstance(text, str):
        return 'Record must have the property "text"'
    if len(regex.findall(r"\X", text)) > 300:
        return "Record/text must not be longer than 300 graphemes"
    if len(text.encode()) > 3000:
        return "Record/text must not be longer than 3000 characters"
    if not _datetime(record.get("createdAt")):
        return "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
    langs = record.get("langs", [])
    if not isinstance(langs, list) or len(langs) > 3:
        return "Record/langs must not have more than 3 elements"
    return _facets_problem(record.get("facets", []), len(text.encode())) or _embed_problem(record.get("embed"))


def _datetime(value: Any) -> bool:
    try:
        return isinstance(value, str) and dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _facets_problem(facets: Any, size: int) -> str | None:
    for index, facet in enumerate(facets if isinstance(facets, list) else [None]):
        where = f"Record/facets/{index}"
        span = facet.get("index", {}) if isinstance(facet, dict) else {}
        start, end = span.get("byteStart"), span.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= size):
            return f"{where}/index must be a byte range inside the text ({size} bytes)"
        features = facet.get("features")
        if not features or any(f.get("$type") not in FEATURES for f in features):
            return f"{where}/features must be link, tag or mention features"
    return None


def _embed_problem(embed: Any) -> str | None:
    if embed is None:
        return None
    images = embed.get("images") if isinstance(embed, dict) else None
    if not isinstance(images, list) or embed.get("$type") != "app.bsky.embed.images":
        return "Record/embed must be app.bsky.embed.images"
    if len(images) > 4:
        return "Record/embed/images must not have more than 4 elements"
    for index, image in enumerate(images):
        where = f"Record/embed/images/{index}"
        if not isinstance(image.get("alt"), str):
            return f'{where} must have the property "alt"'
        if not isinstance(image.get("image"), dict) or image["image"].get("$type") != "blob":
            return f"{where}/image should be a blob ref"
        ratio = image.get("aspectRatio", {"width": 1, "height": 1})
        if not all(isinstance(ratio.get(k), int) and ratio[k] >= 1 for k in ("width", "height")):
            return f"{where}/aspectRatio/width and height must be integers ≥ 1"
    return None
