"""Facebook's Graph API for one Page: photos, feed, published_posts, object reads (../shared/api-contracts.md §7).

Enforced: a pinned version in the path, the Page token (unknown → 190, expired → 190/463) and that
it belongs to the Page in the path (else #200), photo uploads as files of a Graph image type
(JPEG, PNG, GIF, BMP, TIFF) within a size cap, published=true making a post and published=false
an unpublished photo that only a feed post can attach (once, by id), a message or an attachment
on every post, the same message as one of the latest posts → #506 [reported], newest-first
published_posts, permalink lookups. Every reply carries X-App-Usage, X-Page-Usage and
X-Business-Use-Case-Usage. Errors are {"error": {"message", "type", "code", "error_subcode",
"is_transient", "fbtrace_id"}}.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Emulator, Fault, json_response

TOKEN = "EAAGtestFacebookPageToken0123456789"
PAGE_ID = "100000000000000"
VERSION = re.compile(r"v\d+\.\d+")
ATTACHED = re.compile(r"attached_media\[(\d+)\]")
IMAGE_TYPES = (
    ("image/jpeg", b"\xff\xd8\xff"), ("image/png", b"\x89PNG\r\n\x1a\n"), ("image/gif", b"GIF8"),
    ("image/bmp", b"BM"), ("image/tiff", b"II*\x00"), ("image/tiff", b"MM\x00*"),
)  # fmt: skip


class GraphError(Exception):
    def __init__(self, code: int, message: str, subcode: int | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.status = code, message, subcode, status

    def body(self, transient: bool = False) -> dict[str, Any]:
        error = {"message": self.message, "type": "OAuthException", "code": self.code}
        error |= {"error_subcode": self.subcode} if self.subcode else {}
        return {"error": error | {"is_transient": transient, "fbtrace_id": "AtestTrace0001"}}


class FacebookEmulator(Emulator):
    routes = (
        Rule("/<version>/<node>/photos", endpoint="photos", methods=["POST"]),
        Rule("/<version>/<node>/feed", endpoint="feed", methods=["POST"]),
        Rule("/<version>/<node>/published_posts", endpoint="published_posts", methods=["GET"]),
        Rule("/<version>/<node>", endpoint="read", methods=["GET"]),
    )

    def __init__(self, page_id: str = PAGE_ID, token: str = TOKEN) -> None:
        super().__init__()
        self.page_id, self.page_name = page_id, "Shenyang"
        self.tokens = {token: page_id}  # page token → its Page
        self.expired: set[str] = set()
        self.uploads: dict[str, dict[str, Any]] = {}  # photo id → what was uploaded
        self.posts: list[dict[str, Any]] = []  # oldest first
        self.refusals: deque[GraphError] = deque()  # answers for the next create calls
        self.usage_per_call = 1  # percent of the hourly quota each call uses
        self.app_usage = 0  # extra percent, e.g. 100 to show an exhausted app quota
        self.max_photo_bytes = 10_000_000  # [unconfirmed] the sheet only recommends < 4 MB
        self.duplicate_window = 1  # [reported] #506 when the message repeats one of the latest N posts

    # -- endpoints ---------------------------------------------------------------------------

    def photos(self, request: Request, version: str, node: str) -> Response:
        return self._graph(request, version, node, self._photos, create=True)

    def feed(self, request: Request, version: str, node: str) -> Response:
        return self._graph(request, version, node, self._feed, create=True)

    def published_posts(self, request: Request, version: str, node: str) -> Response:
        return self._graph(request, version, node, self._published_posts)

    def read(self, request: Request, version: str, node: str) -> Response:
        return self._graph(request, version, None, lambda r, page: self._read(r, page, node))

    # -- faults ------------------------------------------------------------------------------

    def server_error(self, status: int) -> Response:
        error = GraphError(2, "An unexpected error has occurred. Please retry your request later.")
        return self._reply(error.body(transient=True), status)

    def rate_limited(self, fault: Fault) -> Response:
        minutes = math.ceil(_wait_seconds(fault) / 60)
        usage = {"call_count": 100, "total_cputime": 10, "total_time": 10}
        headers = {
            "X-Page-Usage": json.dumps(usage),
            "X-Business-Use-Case-Usage": json.dumps(
                {self.page_id: [{"type": "pages", **usage, "estimated_time_to_regain_access": minutes}]}
            ),
        }
        return self._reply(GraphError(32, "(#32) Page request limit reached").body(), 400, headers)

    def expire_tokens(self) -> None:
        with self.lock:
            self.expired |= set(self.tokens)

    def refuse_next(
        self, code: int, message: str = "as configured", subcode: int | None = None, status: int = 400
    ) -> None:
        """Answer the next photos or feed call with this Graph error (for the error-code table)."""
        self.refusals.append(GraphError(code, f"(#{code}) {message}", subcode, status))

    # -- handlers ----------------------------------------------------------------------------

    def _graph(
        self, request: Request, version: str, node: str | None, act: Callable[[Request, str], Any], create: bool = False
    ) -> Response:
        try:
            if not VERSION.fullmatch(version):
                raise GraphError(2500, f"Unknown path components: /{version}")
            page = self._page(request, node)
            if create and self.refusals:
                raise self.refusals.popleft()
            return self._reply(act(request, page))
        except GraphError as error:
            return self._reply(error.body(), error.status)

    def _page(self, request: Request, node: str | None) -> str:
        token = request.values.get("access_token") or request.headers.get("Authorization", "").partition(" ")[2]
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        if token in self.expired:
            raise GraphError(190, "Error validating access token: Session has expired.", subcode=463)
        if token not in self.tokens:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        page = self.tokens[token]
        if node is not None and node != page:
            raise GraphError(200, "(#200) The Page token cannot act for this object")
        return page

    def _photos(self, request: Request, page: str) -> dict[str, Any]:
        upload = request.files.get("source")
        if upload is None:
            raise GraphError(324, "(#324) Requires upload file")
        data = upload.read()
        mime = next((kind for kind, magic in IMAGE_TYPES if data.startswith(magic)), None)
        if mime is None:
            raise GraphError(324, "(#324) Missing or invalid image file")
        if len(data) > self.max_photo_bytes:
            raise GraphError(100, "(#100) The photo is too large")
        published = request.form.get("published", "true").lower() != "false"
        message = request.form.get("message", "")
        with self.lock:
            photo_id = str(900_000_000_000_000 + len(self.uploads))
            answer = {"id": photo_id} | ({"post_id": self._post(page, message, [photo_id])["id"]} if published else {})
            photo = {"id": photo_id, "type": mime, "size": len(data), "alt": request.form.get("alt_text_custom")}
            self.uploads[photo_id] = photo | {"published": published, "attached": published}
            return answer

    def _feed(self, request: Request, page: str) -> dict[str, Any]:
        message = request.form.get("message", "")
        media = self._attached(request)
        if not message and not media:
            raise GraphError(100, "(#100) Missing message or attachment")
        with self.lock:
            for photo_id in media:
                self.uploads[photo_id]["attached"] = True
            return {"id": self._post(page, message, media)["id"]}

    def _attached(self, request: Request) -> list[str]:
        """The unpublished photos of attached_media[i], in index order."""
        found = sorted((int(m[1]), value) for key, value in request.form.items() if (m := ATTACHED.fullmatch(key)))
        ids = []
        for index, value in found:
            try:
                photo_id = str(json.loads(value)["media_fbid"])
            except (ValueError, KeyError, TypeError):
                raise GraphError(
                    100, f"(#100) param attached_media[{index}] must be a JSON object with media_fbid"
                ) from None
            photo = self.uploads.get(photo_id)
            if photo is None or photo["attached"]:
                raise GraphError(100, f"(#100) attached_media[{index}]: {photo_id} is not an unpublished photo")
            ids.append(photo_id)
        return ids

    def _post(self, page: str, message: str, photos: list[str]) -> dict[str, Any]:
        """A new post, unless its message repeats one of the latest (#506)."""
        latest = self.posts[-self.duplicate_window :] if self.duplicate_window else []
        if message and any(post["message"] == message for post in latest):
            raise GraphError(506, "(#506) Duplicate status message")
        number = 122_000_000_000_000_000 + len(self.posts)
        post = {
            "id": f"{page}_{number}", "message": message, "photos": photos,
            "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
            "permalink_url": f"https://www.facebook.com/{page}/posts/{number}",
        }  # fmt: skip
        self.posts.append(post)
        return post

    def _published_posts(self, request: Request, page: str) -> dict[str, Any]:
        fields = request.args.get("fields", "id,created_time,message").split(",")
        limit = int(request.args.get("limit", "25"))
        with self.lock:
            newest = list(reversed(self.posts))[:limit]
        return {"data": [{k: post[k] for k in fields if post.get(k)} | {"id": post["id"]} for post in newest]}

    def _read(self, request: Request, page: str, node: str) -> dict[str, Any]:
        fields = request.args.get("fields", "id").split(",")
        with self.lock:
            post = next((p for p in self.posts if p["id"] == node), None)
        if node == page:
            found: dict[str, Any] = {"id": page, "name": self.page_name}
        elif post is not None:
            found = post
        else:
            raise GraphError(100, f"Unsupported get request. Object with ID '{node}' does not exist", subcode=33)
        return {k: found[k] for k in fields if k in found} | {"id": found["id"]}

    def _reply(self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
        """Every Graph reply carries the usage headers, in percent of the hourly quota."""
        percent = min(100, len(self.requests) * self.usage_per_call)
        usage = {"call_count": percent, "total_time": percent, "total_cputime": percent}
        business = {self.page_id: [{"type": "pages", **usage, "estimated_time_to_regain_access": 0}]}
        app = {k: min(100, v + self.app_usage) for k, v in usage.items()}
        usage_headers = {
            "X-App-Usage": json.dumps(app), "X-Page-Usage": json.dumps(usage),
            "X-Business-Use-Case-Usage": json.dumps(business),
        }  # fmt: skip
        return json_response(body, status, usage_headers | (headers or {}))


def _wait_seconds(fault: Fault) -> int:
    """The fault's wait in whole seconds, from its Retry-After value (seconds or an HTTP-date)."""
    value = fault.retry_after or str(int(fault.seconds))
    if value.isdigit():
        return max(1, int(value))
    return max(1, math.ceil(email.utils.parsedate_to_datetime(value).timestamp() - time.time()))
