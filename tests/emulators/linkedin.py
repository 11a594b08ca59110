"""LinkedIn's versioned Posts and Images APIs, plus its OAuth token endpoint (../shared/api-contracts.md §8).

Enforced: the Bearer token (expiry through `expire_tokens` → 401 INVALID_ACCESS_TOKEN), LinkedIn-Version
(missing → `missing_version_status`, unconfirmed; outside the active range → 426 NONEXISTENT_VERSION),
X-Restli-Protocol-Version 2.0.0 (missing → 400), URL-encoded URNs in paths and queries, the author the
token may post as (else 403 ACCESS_DENIED); images: initializeUpload, a PUT of JPG/GIF/PNG bytes to the
upload URL it hands out, then PROCESSING for `processing_polls` status reads before AVAILABLE; posts:
required fields, commentary ≤ 3000 characters (counted as sent, escapes included: unconfirmed, so
`count_escapes`), images AVAILABLE and owned by the author, single media or 2–20 multiImage, an
unescaped reserved character cutting the stored post at that character while still answering 201, the
same commentary again → 422 DUPLICATE_POST naming the first URN, 201 with x-restli-id; posts listed by
author, newest first; refresh tokens (not rotated) for apps enabled for programmatic refresh.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from pipeline.clock import Clock, SystemClock

from .base import Emulator, Fault, json_response

AUTHOR = "urn:li:organization:5515715"
RESERVED = frozenset("\\|{}@[]()<>#*_~")
MENTION = re.compile(r"@\[[^\]]*\]\(urn:li:(?:person|organization):[^)\s]+\)")
SIGNATURES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/gif": b"GIF8"}
MAX_COMMENTARY, MAX_ALT = 3000, 4086
UNAUTHORIZED = {
    "status": 401,
    "serviceErrorCode": 65600,
    "code": "INVALID_ACCESS_TOKEN",
    "message": "Invalid access token",
}
THROTTLED = {
    "status": 429,
    "serviceErrorCode": 101,
    "code": "TOO_MANY_REQUESTS",
    "message": "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
}


@dataclass
class Image:
    urn: str
    owner: str
    status: str = "WAITING_UPLOAD"
    polls_left: int = 0
    size: int = 0


@dataclass
class Post:
    urn: str
    author: str
    commentary: str  # as stored: cut at the first unescaped reserved character
    sent: str  # as sent
    body: dict[str, Any]
    at_ms: int


class LinkedInEmulator(Emulator):
    routes = (
        Rule("/oauth/v2/accessToken", endpoint="access_token", methods=["POST"]),
        Rule("/rest/images", endpoint="initialize_upload", methods=["POST"]),
        Rule("/dms-uploads/<key>", endpoint="upload", methods=["PUT"]),
        Rule("/rest/images/<urn>", endpoint="image", methods=["GET"]),
        Rule("/rest/posts", endpoint="create_post", methods=["POST"]),
        Rule("/rest/posts", endpoint="find_posts", methods=["GET"]),
    )

    def __init__(
        self,
        access_token: str,
        *,
        author: str = AUTHOR,
        refresh_token: str | None = None,
        client: tuple[str, str] = ("86shortline", "client-secret-value"),
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.tokens = {access_token}
        self.refresh_tokens = {refresh_token} if refresh_token else set()
        self.client = client
        self.refreshes = 0
        self.authors = {author}  # what the token may post as (w_organization_social and a page role)
        self.images: dict[str, Image] = {}
        self.uploads: dict[str, str] = {}  # upload key → image URN
        self.posts: list[Post] = []
        self.processing_polls = 1  # status reads that still say PROCESSING after the upload
        self.active_versions = ("202512", "202611")  # oldest and newest active LinkedIn-Version
        self.missing_version_status = 426  # [unconfirmed]: the code for a request without LinkedIn-Version
        self.count_escapes = True  # [unconfirmed]: whether the escaping backslashes count toward 3000
        self.send_retry_after = True  # whether a 429 carries the fault's Retry-After (LinkedIn documents none)
        self._ids = itertools.count(7012345678901234567, 104729)

    # -- what LinkedIn says differently --------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return json_response({"message": HTTPStatus(status).phrase, "status": status}, status)

    def rate_limited(self, fault: Fault) -> Response:
        headers = {"Retry-After": fault.retry_after} if self.send_retry_after and fault.retry_after else {}
        return json_response(THROTTLED, 429, headers)

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # -- OAuth -------------------------------------------------------------------------------

    def access_token(self, request: Request) -> Response:
        form = request.form
        if (form.get("client_id"), form.get("client_secret")) != self.client:
            return json_response({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        with self.lock:
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
                invalid = "The provided authorization grant or refresh token is invalid, expired or revoked"
                return json_response({"error": "invalid_grant", "error_description": invalid}, 400)
            self.refreshes += 1
            token = f"AQV{secrets.token_urlsafe(32)}"
            self.tokens.add(token)
        body = {"access_token": token, "expires_in": 5_184_000, "refresh_token": form["refresh_token"]}
        return json_response(body | {"refresh_token_expires_in": 31_000_000, "scope": "w_organization_social"})

    # -- images ------------------------------------------------------------------------------

    def initialize_upload(self, request: Request) -> Response:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        if request.args.get("action") != "initializeUpload":
            return _bad("action must be initializeUpload", "/action")
        owner = ((request.get_json(silent=True) or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner not in self.authors:
            return _denied(f"Not enough permissions to upload images for {owner}")
        image, key = Image(f"urn:li:image:C4E10AQ{secrets.token_hex(8)}", owner), secrets.token_urlsafe(12)
        with self.lock:
            self.images[image.urn], self.uploads[key] = image, image.urn
        expires = int(self.clock.now().timestamp() * 1000) + 86_400_000
        value = {"uploadUrlExpiresAt": expires, "uploadUrl": f"{self.base_url}/dms-uploads/{key}", "image": image.urn}
        return json_response({"value": value})

    def upload(self, request: Request, key: str) -> Response:
        if not self._token_ok(request):
            return json_response(UNAUTHORIZED, 401)
        image = self.images.get(self.uploads.get(key, ""))
        data = request.get_data()
        if image is None or image.status != "WAITING_UPLOAD":
            return _bad("Unknown or used upload URL", "/uploadUrl")
        if not any(data.startswith(mark) for mark in SIGNATURES.values()):
            return _bad("The upload is not a JPG, GIF or PNG image", "/image")
        with self.lock:
            image.size, image.polls_left = len(data), self.processing_polls
            image.status = "PROCESSING" if self.processing_polls else "AVAILABLE"
        return Response(b"", 201)

    def image(self, request: Request, urn: str) -> Response:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        image = self.images.get(urn)
        if image is None:
            return json_response({"status": 404, "code": "NOT_FOUND", "message": f"Image {urn} not found"}, 404)
        with self.lock:
            shown = image.status
            if image.status == "PROCESSING":
                image.polls_left -= 1
                image.status = "AVAILABLE" if image.polls_left <= 0 else "PROCESSING"
        return json_response({"owner": image.owner, "id": image.urn, "status": shown})

    # -- posts -------------------------------------------------------------------------------

    def create_post(self, request: Request) -> Response:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _bad("The body is not a JSON object", "")
        if body.get("author") not in self.authors:
            return _denied(f"Not enough permissions to post as {body.get('author')}")
        problem = _post_problem(body, self.count_escapes) or self._content_problem(body)
        if problem is not None:
            return problem
        return self._store(body)

    def _content_problem(self, body: dict[str, Any]) -> Response | None:
        content = body.get("content") or {}
        if "multiImage" in content:
            media = (content["multiImage"] or {}).get("images") or []
            if not 2 <= len(media) <= 20:
                return _bad("multiImage takes 2 to 20 images", "/content/multiImage/images")
        else:
            media = [content["media"]] if "media" in content else []
        for item in media:
            image = self.images.get(str((item or {}).get("id")))
            if image is None or image.status != "AVAILABLE" or image.owner != body["author"]:
                return _bad(f"Image {item} is not AVAILABLE for this author", "/content")
            if len(str(item.get("altText", ""))) > MAX_ALT:
                return _bad("altText is too long", "/content/altText")
        return None

    def _store(self, body: dict[str, Any]) -> Response:
        sent = body["commentary"]
        stored = cut(sent)
        with self.lock:
            first = next((p for p in self.posts if p.author == body["author"] and p.commentary == stored), None)
            if first is not None:
                return _duplicate(first.urn)
            post = Post(f"urn:li:share:{next(self._ids)}", body["author"], stored, sent, body, self._now_ms())
            self.posts.append(post)
        return Response(b"", 201, {"x-restli-id": post.urn})

    def find_posts(self, request: Request) -> Response:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        author, count = request.args.get("author"), request.args.get("count", "10")
        if request.args.get("q") != "author" or not count.isdigit():
            return _bad("The finder needs q=author and a numeric count", "/q")
        if author not in self.authors:
            return _denied(f"Not enough permissions to read the posts of {author}")
        with self.lock:
            mine = [p for p in reversed(self.posts) if p.author == author]
        elements = [_post_json(p) for p in mine[: int(count)]]
        return json_response(
            {"paging": {"start": 0, "count": int(count), "links": [], "total": len(mine)}, "elements": elements}
        )

    # -- request checks ----------------------------------------------------------------------

    def refusal(self, request: Request) -> Response | None:
        """The checks every /rest call passes: token, version, Rest.li protocol, URL-encoded URNs."""
        if not self._token_ok(request):
            return json_response(UNAUTHORIZED, 401)
        version = request.headers.get("LinkedIn-Version")
        if version is None:
            message = "A version must be present. Please specify a version by adding the LinkedIn-Version header."
            return json_response(
                {"status": self.missing_version_status, "code": "VERSION_MISSING", "message": message},
                self.missing_version_status,
            )
        if (
            not re.fullmatch(r"\d{6}(\.\d{2})?", version)
            or not self.active_versions[0] <= version[:6] <= self.active_versions[1]
        ):
            message = f"Requested version {version} is not active"
            return json_response({"status": 426, "code": "NONEXISTENT_VERSION", "message": message}, 426)
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return _bad("X-Restli-Protocol-Version 2.0.0 is required", "")
        if "urn:li:" in _raw_target(request.environ):
            return _bad("Syntax exception in path variables: URNs must be URL-encoded", "")
        return None

    def _token_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with self.lock:
            return scheme == "Bearer" and token in self.tokens

    def _now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)


def _raw_target(environ: dict[str, Any]) -> str:
    """The request target as sent (path and query still URL-encoded); the query alone where the
    server gives no raw target."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    return str(raw) if raw else "?" + str(environ.get("QUERY_STRING", ""))


def cut(commentary: str) -> str:
    """What LinkedIn keeps of a little-format commentary: everything before the first unescaped reserved
    character (an escape, a hashtag and a mention are the reserved characters' legal uses)."""
    i = 0
    while i < len(commentary):
        char = commentary[i]
        if char == "\\" and i + 1 < len(commentary) and commentary[i + 1] in RESERVED:
            i += 2
        elif char == "@" and (mention := MENTION.match(commentary, i)):
            i = mention.end()
        elif char == "#" and (i == 0 or commentary[i - 1].isspace()) and commentary[i + 1 : i + 2].isalnum():
            i += 1
        elif char in RESERVED:
            return commentary[:i]
        else:
            i += 1
    return commentary


def _post_problem(body: dict[str, Any], count_escapes: bool) -> Response | None:
    commentary = body.get("commentary")
    if not isinstance(commentary, str):
        return _bad("commentary is required", "/commentary")
    length = len(commentary) if count_escapes else len(re.sub(r"\\(.)", r"\1", commentary))
    if length > MAX_COMMENTARY:
        return _bad(
            f"commentary is {length} characters; the maximum is {MAX_COMMENTARY}", "/commentary", "MAX_LENGTH_EXCEEDED"
        )
    if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
        return _bad("visibility is required", "/visibility")
    if (body.get("distribution") or {}).get("feedDistribution") not in ("MAIN_FEED", "NONE"):
        return _bad("distribution.feedDistribution is required", "/distribution/feedDistribution")
    if body.get("lifecycleState") not in ("PUBLISHED", "DRAFT"):
        return _bad("lifecycleState is required", "/lifecycleState")
    return None


def _post_json(post: Post) -> dict[str, Any]:
    shown = {k: v for k, v in post.body.items() if k not in ("commentary",)}
    times = {"createdAt": post.at_ms, "lastModifiedAt": post.at_ms, "publishedAt": post.at_ms}
    return shown | {"id": post.urn, "commentary": post.commentary} | times


def _bad(message: str, field_path: str, code: str = "INVALID_VALUE") -> Response:
    error = {"description": message, "input": {"inputPath": {"fieldPath": field_path}}, "code": code}
    body = {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": message,
        "errorDetails": {"inputErrors": [error]},
        "status": 400,
    }
    return json_response(body, 400)


def _denied(message: str) -> Response:
    return json_response({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": message}, 403)


def _duplicate(urn: str) -> Response:
    error = {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
    body = {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": f"Unprocessable Entity: Content is a duplicate of {urn}",
        "errorDetails": {"inputErrors": [error]},
        "status": 422,
    }
    return json_response(body, 422)
