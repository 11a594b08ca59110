"""Sina Weibo's statuses/share, get_token_info and rate_limit_status (../shared/api-contracts.md §2).

Enforced on share: the access token (unknown → 21332, expired → 21327), `status` required, a URL on
a safe domain, no #topic# words, at most 140 units (U+0000–U+00FF ½, up to U+FFFF 1, beyond 2,
rounded up) → 20012, one JPEG/GIF/PNG `pic` under 5 MB sent as a file (20005/20006/20007), and
identical text from the same user → 20019. Errors are `{"error", "error_code", "request"}`.

The sheet leaves HTTP statuses and some codes unconfirmed: they are attributes. In particular it
names no code for a status without a safe-domain link or with a topic; 10017 (a parameter's value
is invalid) is used for both.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections import deque
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .base import Emulator, Fault, json_response

TOKEN = "2.00TestWeiboAccessToken0123456789"
UID = "1404376560"
URL_HOST = re.compile(r"https?://([^/\s?#:]+)")
TOPIC = re.compile(r"#[^#]+#")
RATE_MESSAGES = {
    10022: "IP requests out of rate limit!",
    10023: "User requests out of rate limit!",
    10024: "User requests for (statuses/share) out of rate limit!",
    20016: "Out of limit!",
}


class Refused(Exception):
    def __init__(self, code: int, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class WeiboEmulator(Emulator):
    routes = (
        Rule("/2/statuses/share.json", endpoint="share", methods=["POST"]),
        Rule("/oauth2/get_token_info", endpoint="token_info", methods=["POST"]),
        Rule("/2/account/rate_limit_status.json", endpoint="rate_limit_status", methods=["GET"]),
    )

    def __init__(self, tokens: dict[str, str] | None = None, safe_domains: tuple[str, ...] = ("shenyang.gov.cn",)):
        super().__init__()
        self.tokens = dict(tokens or {TOKEN: UID})  # access token → uid
        self.expired: set[str] = set()
        self.safe_domains = safe_domains
        self.posts: list[dict[str, Any]] = []
        self.refusals: deque[tuple[int, int]] = deque()  # (error_code, HTTP status) for the next shares
        self.expire_in = 157_679_999
        self.limited_until = 0.0  # rate_limit_status reports no hits left until then
        # [unconfirmed] in the sheet: HTTP statuses and the codes it does not name
        self.error_status, self.auth_status = 400, 401
        self.rate_code, self.rate_status = 10023, 403
        self.safe_domain_code = self.topic_code = 10017
        self.max_pic_bytes = 5_000_000  # "< 5 MB"

    # -- endpoints ---------------------------------------------------------------------------

    def share(self, request: Request) -> Response:
        return self._answer_or_refuse(request, self._share)

    def token_info(self, request: Request) -> Response:
        return self._answer_or_refuse(request, self._token_info)

    def rate_limit_status(self, request: Request) -> Response:
        return self._answer_or_refuse(request, self._rate_limit_status)

    # -- faults ------------------------------------------------------------------------------

    def server_error(self, status: int) -> Response:
        return json_response(
            {"error": "system error!", "error_code": 10001, "request": "/2/statuses/share.json"}, status
        )

    def rate_limited(self, fault: Fault) -> Response:
        """Weibo sends no wait header; the window shows in rate_limit_status until it ends."""
        with self.lock:
            self.limited_until = time.time() + _wait_seconds(fault)
        body = {"error": RATE_MESSAGES.get(self.rate_code, "Out of limit!"), "error_code": self.rate_code}
        return json_response(body | {"request": "/2/statuses/share.json"}, self.rate_status)

    def expire_tokens(self) -> None:
        with self.lock:
            self.expired |= set(self.tokens)

    def refuse_next(self, error_code: int, status: int = 400) -> None:
        """Answer the next share with this error (for the error-code table)."""
        self.refusals.append((error_code, status))

    # -- handlers ----------------------------------------------------------------------------

    def _answer_or_refuse(self, request: Request, handler: Any) -> Response:
        try:
            return json_response(handler(request))
        except Refused as refused:
            body = {"error": refused.message, "error_code": refused.code, "request": request.path}
            return json_response(body, refused.status or self.error_status)

    def _share(self, request: Request) -> dict[str, Any]:
        if self.refusals:
            code, status = self.refusals.popleft()
            raise Refused(code, f"error {code} (as configured)", status)
        uid = self._user(request.form)
        status = request.form.get("status")
        if not status:
            raise Refused(10016, "Miss required parameter (status) , see doc for more info.")
        self._check_status(status)
        pic = self._pic(request)
        with self.lock:
            if any(post["uid"] == uid and post["text"] == status for post in self.posts):
                raise Refused(20019, "Repeat content!")
            return self._store(uid, status, pic, request.form.get("rip"))

    def _token_info(self, request: Request) -> dict[str, Any]:
        uid = self._user(request.form)
        return {
            "uid": int(uid),
            "appkey": "1234567890",
            "scope": "",
            "create_at": 1767225600,
            "expire_in": self.expire_in,
        }

    def _rate_limit_status(self, request: Request) -> dict[str, Any]:
        self._user(request.args)
        now = time.time()
        limited = now < self.limited_until
        reset = math.ceil(self.limited_until - now) if limited else 3600 - int(now) % 3600
        user_hits = 0 if limited else max(0, 150 - len(self.calls("share")))
        return {
            "ip_limit": 10000, "limit_time_unit": "HOURS", "remaining_ip_hits": 10000 - len(self.requests),
            "remaining_user_hits": user_hits, "reset_time_in_seconds": reset, "user_limit": 150,
        }  # fmt: skip

    def _user(self, values: MultiDict[str, str]) -> str:
        token = values.get("access_token", "")
        if token in self.expired:
            raise Refused(21327, "expired_token", self.auth_status)
        if token not in self.tokens:
            raise Refused(21332, "invalid_access_token", self.auth_status)
        return self.tokens[token]

    def _check_status(self, status: str) -> None:
        hosts = URL_HOST.findall(status)
        if not any(host == d or host.endswith("." + d) for host in hosts for d in self.safe_domains):
            raise Refused(self.safe_domain_code, "Parameter (status)'s value invalid, expect (a safe-domain link)")
        if TOPIC.search(status):
            raise Refused(self.topic_code, "Parameter (status)'s value invalid, expect (no #topic# words)")
        if units(status) > 140:
            raise Refused(20012, "Text too long, please input text less than 140 characters!")

    def _pic(self, request: Request) -> tuple[str, int] | None:
        """The picture's type and size; None when the status has none."""
        if "pic" in request.form:
            raise Refused(20007, "Does multipart has image?")
        if "pic" not in request.files:
            return None
        data = request.files["pic"].read()
        kind = image_type(data)
        if kind is None:
            raise Refused(20005, "Unsupported image type, only suport JPG, GIF, PNG!")
        if len(data) >= self.max_pic_bytes:
            raise Refused(20006, "Image size too large.")
        return kind, len(data)

    def _store(self, uid: str, status: str, pic: tuple[str, int] | None, rip: str | None) -> dict[str, Any]:
        idstr = str(4_777_777_777_777_777 + len(self.posts))
        pic_ids = [f"006pic{idstr[-6:]}"] if pic else []
        self.posts.append({"idstr": idstr, "uid": uid, "text": status, "pic": pic, "rip": rip})
        created = time.strftime("%a %b %d %H:%M:%S +0800 %Y", time.gmtime(time.time() + 8 * 3600))
        return {
            "created_at": created, "id": int(idstr), "idstr": idstr, "mid": idstr, "text": status,
            "pic_ids": pic_ids, "user": {"id": int(uid), "idstr": uid},
        }  # fmt: skip


def units(text: str) -> int:
    """Weibo's count as the sheet gives it (empirical): halves summed, rounded up."""
    halves = sum(1 if ord(c) <= 0xFF else 2 if ord(c) <= 0xFFFF else 4 for c in text)
    return math.ceil(halves / 2)


def image_type(data: bytes) -> str | None:
    """JPEG, GIF or PNG by their magic numbers; None for anything else."""
    for kind, magic in (("jpeg", b"\xff\xd8\xff"), ("gif", b"GIF8"), ("png", b"\x89PNG\r\n\x1a\n")):
        if data.startswith(magic):
            return kind
    return None


def _wait_seconds(fault: Fault) -> int:
    """The fault's wait in whole seconds, from its Retry-After value (seconds or an HTTP-date)."""
    value = fault.retry_after or str(int(fault.seconds))
    if value.isdigit():
        return max(1, int(value))
    return max(1, math.ceil(email.utils.parsedate_to_datetime(value).timestamp() - time.time()))
