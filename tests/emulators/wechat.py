"""The WeChat Official Account API as the contract sheet describes it (../shared/api-contracts.md §1).

Every error is HTTP 200 with `{"errcode": N, "errmsg": "... rid: ..."}`. Enforced:
- the IP whitelist on every call (40164) and the access token on every call but stable_token
  (41001 missing, 40014 malformed, 40001 unknown or replaced by a force refresh, 42001 expired);
- stable_token: the same token while it is valid; force_refresh replaces it (counted in `refreshes`,
  at most 20 a day: 45009); a wrong appid or secret is 40013 / 40125;
- request bodies are UTF-8 JSON (else 47001) whose \\u escapes stay literal, as WeChat shows them;
- add_material: type image (≤10 MB; bmp/png/jpeg/jpg/gif) or thumb (≤64 KB; jpg): 40004/40005/40009;
  media/uploadimg: jpg/png under 1 MB; only the URLs it issued survive in an article's <img src>;
- draft/add, counted in code points: title ≤32 (45003), author ≤16 (45110), digest ≤128 (45004),
  content under 20,000 characters and 1 MB (45002); thumb_media_id must be permanent material (40007);
  scripts and foreign <img> are stripped; an empty digest becomes the first 54 characters of the body;
- freepublish/submit takes the draft out of the draft box, counts against the daily quota (45009)
  and answers publish_id as a number, as real replies do;
- a publish job stays at publish_status 1 for `polls_to_finish` looks (a freepublish/get of it, or
  any freepublish/batchget, which is how time passes here), then ends in `final_status` (0 success;
  2/3/4 failures with fail_idx); only successful articles are listed by freepublish/batchget.

`refuse(endpoint, *codes)` makes the next calls answer those errcodes (the error-code table tests).
"""

from __future__ import annotations

import functools
import html
import json
import re
import secrets
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Emulator, Fault, json_response

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40009: "invalid image size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40125: "invalid appsecret",
    40164: "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist",
    41001: "access_token missing",
    41005: "media data missing",
    42001: "access_token expired",
    44003: "empty news data",
    45001: "media size out of limit",
    45002: "content size out of limit",
    45003: "title size out of limit",
    45004: "description size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45110: "author size out of limit",
    45166: "invalid content",
    47001: "data format error",
    48001: "api unauthorized",
    53500: "publish is banned",
    53501: "publish too frequently",
    53502: "invalid publish_id",
    53503: "this draft failed the publish check",
    53504: "please use this draft on the web",
    53505: "please save this draft manually first",
    53600: "invalid article_id",
    76021: "cgi_path not found, please check",
}
MB = 1024 * 1024  # [unconfirmed] whether the sheet's MB is 2^20 or 10^6 bytes; uploadimg uses the stricter 10^6
MATERIAL = {"image": ({"bmp", "png", "jpeg", "jpg", "gif"}, 10 * MB), "thumb": ({"jpg"}, 64 * 1024)}
FIELDS = (("title", 32, 45003), ("author", 16, 45110), ("digest", 128, 45004))
ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u")  # a JSON \u escape (not an escaped backslash before u)
IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]+>")
TOKEN_FORM = re.compile(r"[\w-]{32,512}")


class Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Job:
    """One freepublish task: publishing, then ended in a status; an article when it succeeded."""

    publish_id: int
    articles: list[dict[str, Any]]
    looks: int = 0
    status: int = 1
    article_id: str = ""
    url: str = ""
    done_at: int = 0


@dataclass
class Draft:
    articles: list[dict[str, Any]]
    created: int = field(default_factory=lambda: int(time.time()))


def api(*, token: bool = True) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., Response]]:
    """An endpoint: whitelist, scripted errcodes and token checked first; Refused becomes its errcode."""

    def wrap(handler: Callable[..., dict[str, Any]]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def answer(self: WechatEmulator, request: Request) -> Response:
            try:
                self.admit(request, handler.__name__, token)
                reply = handler(self, request)
            except Refused as refused:
                return self.error(refused.code)
            with self.lock:
                self.used[handler.__name__] += 1
            return json_response(reply)

        return answer

    return wrap


class WechatEmulator(Emulator):
    routes = (
        Rule("/cgi-bin/stable_token", endpoint="stable_token", methods=["POST"]),
        Rule("/cgi-bin/material/add_material", endpoint="add_material", methods=["POST"]),
        Rule("/cgi-bin/media/uploadimg", endpoint="uploadimg", methods=["POST"]),
        Rule("/cgi-bin/draft/add", endpoint="draft_add", methods=["POST"]),
        Rule("/cgi-bin/draft/batchget", endpoint="draft_batchget", methods=["POST"]),
        Rule("/cgi-bin/freepublish/submit", endpoint="freepublish_submit", methods=["POST"]),
        Rule("/cgi-bin/freepublish/get", endpoint="freepublish_get", methods=["POST"]),
        Rule("/cgi-bin/freepublish/batchget", endpoint="freepublish_batchget", methods=["POST"]),
        Rule("/cgi-bin/openapi/quota/get", endpoint="quota_get", methods=["POST"]),
    )

    def __init__(self, appid: str, secret: str, *, polls_to_finish: int = 2, final_status: int = 0) -> None:
        super().__init__()
        self.appid, self.secret = appid, secret
        self.polls_to_finish, self.final_status = polls_to_finish, final_status
        self.ip_whitelisted = True
        self.publish_quota = 100  # freepublish/submit calls a day [unconfirmed]
        self.tokens: dict[str, str] = {}  # token → valid | expired | replaced
        self.issued_at: dict[str, float] = {}
        self.current: str | None = None
        self.refreshes = 0  # force_refresh calls
        self.materials: dict[str, dict[str, Any]] = {}  # permanent media_id → what was uploaded
        self.image_urls: set[str] = set()  # URLs media/uploadimg issued
        self.drafts: dict[str, Draft] = {}  # the draft box, oldest first
        self.jobs: dict[str, Job] = {}  # publish_id → job: every accepted submit
        self.used: Counter[str] = Counter()  # successful calls per endpoint, for openapi/quota/get
        self.scripted: dict[str, deque[int]] = defaultdict(deque)
        self._ids = iter(range(2247483655, 2**62, 7))  # publish ids, numbers as in real replies

    # -- test controls ---------------------------------------------------------------------------

    def refuse(self, endpoint: str, *codes: int) -> None:
        with self.lock:
            self.scripted[endpoint].extend(codes)

    def published(self) -> list[Job]:
        with self.lock:
            return [job for job in self.jobs.values() if job.status == 0]

    # -- what WeChat says differently -------------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return Response(f"<html><body><h1>{status}</h1></body></html>", status, content_type="text/html")

    def rate_limited(self, fault: Fault) -> Response:
        """WeChat's per-minute quota: errcode 45011 in an HTTP 200; its wait signal is "next minute"."""
        return self.error(45011)

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: "expired" if state == "valid" else state for t, state in self.tokens.items()}

    def error(self, code: int) -> Response:
        rid = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
        return json_response({"errcode": code, "errmsg": f"{ERRMSG.get(code, 'error')} rid: {rid}"})

    # -- checks every call passes ------------------------------------------------------------------

    def admit(self, request: Request, endpoint: str, token: bool) -> None:
        if not self.ip_whitelisted:
            raise Refused(40164)
        with self.lock:
            if self.scripted[endpoint]:
                raise Refused(self.scripted[endpoint].popleft())
        if token:
            self._check_token(request.args.get("access_token", ""))

    def _check_token(self, token: str) -> None:
        if not token:
            raise Refused(41001)
        if not TOKEN_FORM.fullmatch(token):
            raise Refused(40014)
        with self.lock:
            state = self.tokens.get(token, "unknown")
        if state == "expired":
            raise Refused(42001)
        if state != "valid":
            raise Refused(40001)

    def payload(self, request: Request) -> dict[str, Any]:
        """The JSON body, its \\u escapes kept literal (WeChat does not decode them)."""
        try:
            data = json.loads(ESCAPE.sub(r"\1\\\\u", request.get_data().decode("utf-8")))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError both
            raise Refused(47001) from None
        if not isinstance(data, dict):
            raise Refused(47001)
        return data

    def upload(self, request: Request) -> tuple[str, str, int]:
        """The multipart `media` file: its name, lower-case extension and size."""
        media = request.files.get("media")
        if media is None or not media.filename:
            raise Refused(41005)
        name = media.filename
        return name, name.rsplit(".", 1)[-1].lower() if "." in name else "", len(media.read())

    def new_id(self) -> str:
        return secrets.token_urlsafe(48)

    # -- tokens ----------------------------------------------------------------------------------

    @api(token=False)
    def stable_token(self, request: Request) -> dict[str, Any]:
        body = self.payload(request)
        if body.get("grant_type") != "client_credential":
            raise Refused(47001)
        if body.get("appid") != self.appid:
            raise Refused(40013)
        if body.get("secret") != self.secret:
            raise Refused(40125)
        with self.lock:
            if body.get("force_refresh") is True:
                self._force_refresh()
            elif self.current is None or self.tokens[self.current] != "valid" or self._left(self.current) < 300:
                self._issue()
            assert self.current is not None
            return {"access_token": self.current, "expires_in": self._left(self.current)}

    def _force_refresh(self) -> None:
        if self.refreshes >= 20:
            raise Refused(45009)
        self.refreshes += 1
        if self.current is not None:
            self.tokens[self.current] = "replaced"
        self._issue()

    def _issue(self) -> None:
        self.current = secrets.token_urlsafe(120)
        self.tokens[self.current], self.issued_at[self.current] = "valid", time.monotonic()

    def _left(self, token: str) -> int:
        return max(0, 7200 - int(time.monotonic() - self.issued_at[token]))

    # -- media -----------------------------------------------------------------------------------

    @api()
    def add_material(self, request: Request) -> dict[str, Any]:
        kind = request.args.get("type", "")
        if kind not in MATERIAL:
            raise Refused(40004)
        name, ext, size = self.upload(request)
        allowed, limit = MATERIAL[kind]
        if ext not in allowed:
            raise Refused(40005)
        if size > limit:
            raise Refused(40009)
        media_id = self.new_id()
        url = f"http://mmbiz.qpic.cn/mmbiz_{ext}/{secrets.token_hex(16)}/0?wx_fmt={ext}"
        with self.lock:
            self.materials[media_id] = {"type": kind, "filename": name, "size": size, "url": url}
        return {"media_id": media_id, "url": url}

    @api()
    def uploadimg(self, request: Request) -> dict[str, Any]:
        _, ext, size = self.upload(request)
        if ext not in ("jpg", "png"):
            raise Refused(40005)
        if size >= 1_000_000:
            raise Refused(40009)
        url = f"http://mmbiz.qpic.cn/mmbiz_{ext}/{secrets.token_hex(16)}/0"
        with self.lock:
            self.image_urls.add(url)
        return {"url": url, "errcode": 0, "errmsg": "ok"}

    # -- drafts ----------------------------------------------------------------------------------

    @api()
    def draft_add(self, request: Request) -> dict[str, Any]:
        articles = self.payload(request).get("articles")
        if not isinstance(articles, list) or not articles:
            raise Refused(44003)
        stored = [self._article(article) for article in articles]
        media_id = self.new_id()
        with self.lock:
            self.drafts[media_id] = Draft(stored)
        return {"media_id": media_id}

    def _article(self, article: Any) -> dict[str, Any]:
        if not isinstance(article, dict) or not article.get("title") or not article.get("content"):
            raise Refused(44003)
        for name, limit, code in FIELDS:
            if len(str(article.get(name, ""))) > limit:  # 字 as code points [unconfirmed]
                raise Refused(code)
        content = str(article["content"])
        if len(content) >= 20_000 or len(content.encode()) >= 1_000_000:
            raise Refused(45002)
        if article.get("thumb_media_id") not in self.materials:
            raise Refused(40007)
        content = self._clean(content)
        return article | {"content": content, "digest": article.get("digest") or _plain(content)[:54]}

    def _clean(self, content: str) -> str:
        """Scripts removed; an <img> survives only when its src is a URL media/uploadimg issued."""
        with self.lock:
            issued = set(self.image_urls)

        def keep(tag: re.Match[str]) -> str:
            src = SRC.search(tag[0])
            return tag[0] if src and html.unescape(src[1]) in issued else ""

        return IMG.sub(keep, SCRIPT.sub("", content))

    @api()
    def draft_batchget(self, request: Request) -> dict[str, Any]:
        body = self.payload(request)
        with self.lock:
            drafts = [(media_id, draft) for media_id, draft in reversed(self.drafts.items())]
        page = _page(drafts, body)
        items = [
            {"media_id": media_id, "content": {"news_item": _shown(d.articles, body)}, "update_time": d.created}
            for media_id, d in page
        ]
        return {"total_count": len(drafts), "item_count": len(items), "item": items}

    # -- publishing ------------------------------------------------------------------------------

    @api()
    def freepublish_submit(self, request: Request) -> dict[str, Any]:
        media_id = self.payload(request).get("media_id")
        with self.lock:
            if media_id not in self.drafts:
                raise Refused(40007)  # never a draft, or already submitted (submit removes it)
            if self.used["freepublish_submit"] >= self.publish_quota:
                raise Refused(45009)
            publish_id = next(self._ids)
            self.jobs[str(publish_id)] = Job(publish_id, self.drafts.pop(media_id).articles)
        return {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": publish_id + 1}

    @api()
    def freepublish_get(self, request: Request) -> dict[str, Any]:
        publish_id = str(self.payload(request).get("publish_id", ""))
        with self.lock:
            job = self.jobs.get(publish_id)
            if job is None:
                raise Refused(53502)
            self._look(job)
            return _status(job)

    def _look(self, job: Job) -> None:
        job.looks += 1
        if job.status == 1 and job.looks > self.polls_to_finish:
            job.status, job.done_at = self.final_status, int(time.time())
            if job.status == 0:
                job.article_id = self.new_id()
                job.url = f"https://mp.weixin.qq.com/s/{secrets.token_urlsafe(16)}"

    @api()
    def freepublish_batchget(self, request: Request) -> dict[str, Any]:
        body = self.payload(request)
        with self.lock:
            for job in self.jobs.values():
                self._look(job)
            done = [job for job in reversed(self.jobs.values()) if job.status == 0]
        items = [_published(job, body) for job in _page(done, body)]
        return {"total_count": len(done), "item_count": len(items), "item": items}

    @api()
    def quota_get(self, request: Request) -> dict[str, Any]:
        try:
            endpoint, _ = self.url_map.bind("api.weixin.qq.com").match(
                str(self.payload(request).get("cgi_path")), "POST"
            )
        except HTTPException:
            raise Refused(76021) from None
        limit = self.publish_quota if endpoint == "freepublish_submit" else 100_000
        with self.lock:
            used = self.used[str(endpoint)]
        return {"errcode": 0, "errmsg": "ok", "quota": {"daily_limit": limit, "used": used, "remain": limit - used}}


def _page(items: list[Any], body: dict[str, Any]) -> list[Any]:
    offset, count = int(body.get("offset", 0)), int(body.get("count", 20))
    if not 1 <= count <= 20 or offset < 0:
        raise Refused(47001)
    return items[offset : offset + count]


def _shown(articles: list[dict[str, Any]], body: dict[str, Any]) -> list[dict[str, Any]]:
    return [a | {"content": ""} if body.get("no_content") == 1 else dict(a) for a in articles]


def _status(job: Job) -> dict[str, Any]:
    reply: dict[str, Any] = {"publish_id": str(job.publish_id), "publish_status": job.status, "fail_idx": []}
    if job.status == 0:
        detail = {"count": 1, "item": [{"idx": 1, "article_url": job.url}]}
        reply |= {"article_id": job.article_id, "article_detail": detail}
    elif job.status in (2, 4):
        reply["fail_idx"] = list(range(1, len(job.articles) + 1))
    return reply


def _published(job: Job, body: dict[str, Any]) -> dict[str, Any]:
    news = [a | {"url": job.url, "is_deleted": False} for a in _shown(job.articles, body)]
    content = {"news_item": news, "create_time": job.done_at, "update_time": job.done_at}
    return {"article_id": job.article_id, "content": content, "update_time": job.done_at}


def _plain(content: str) -> str:
    return html.unescape(TAG.sub("", content))
