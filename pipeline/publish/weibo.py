"""Sina Weibo (statuses/share): one status with at most one picture (../shared/api-contracts.md §2).

Weibo has no idempotency key and a third-party app cannot read its own timeline back, so nothing
is re-sent after an ambiguous failure: no reply within the read timeout, or a system error on the
share call, is OutcomeUnknown, and `reconcile` cannot tell (an editor checks the account).

A connection reset after the request was sent is just as ambiguous, so it is OutcomeUnknown too.
Weibo does refuse identical text (20017/20019): when an editor sends an `unknown` delivery again, a
duplicate answer means "published (dup-inferred)": a receipt whose remote id says so, for the
editor to confirm. `sent_at` in the progress marks an attempt that may have gone out: saved before
the request leaves, taken back when Weibo answers that nothing was posted. A duplicate without one
is someone else's post: rejected.

There is no refresh token: a refused token pauses the channel until someone re-authorizes the app.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from typing import Any

import requests

from ..compose import counting
from ..config import ChannelConfig
from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt
from .base import ChannelReport, Limits, Progress, Publisher

log = logging.getLogger(__name__)

SHARE = "/2/statuses/share.json"
TOKEN_INFO = "/oauth2/get_token_info"
RATE_STATUS = "/2/account/rate_limit_status.json"
STATUS_URL = "https://m.weibo.cn/status/{}"  # [unconfirmed] in the contract sheet
DUP_INFERRED = "dup-inferred"
HOUR = 3600.0  # Weibo's rate windows are hourly

AUTH = frozenset({10014, 21314, 21315, 21316, 21317, 21321, 21327, 21332})
HITS = frozenset({10022, 10023, 10024})  # the IP / user / endpoint counters rate_limit_status reports
RATE = HITS | {20016}
REJECTED = frozenset({20005, 20006, 20007, 20012, 20018, 20020, 20021})
DUPLICATE = frozenset({20017, 20019})
SYSTEM = frozenset({10001, 10002, 10003, 10009})
TOPIC = re.compile(r"#[^#\s][^#]*#")
LIMITS = {"status_units": 140, "images": 1, "image_bytes": 4_999_999}


class WeiboPublisher(Publisher):
    type = "weibo"
    idempotent = False
    limits = Limits(max_chars=140, max_images=1)  # chars: 汉字 units, half-width counting ½
    default_base_url = "https://api.weibo.com"

    def check(self, variant: Variant) -> list[str]:
        problems = counting.over_limit("weibo", "status", variant.text)
        if len(variant.cards) > 1:
            problems.append(f"{len(variant.cards)} images; a Weibo status takes 1 (only the first would go)")
        if self.config.link and self.config.link not in variant.text:
            problems.append(f"the status must contain the channel's link {self.config.link} (the app's safe domain)")
        if TOPIC.search(variant.text):
            problems.append("#topic# words are not allowed in statuses sent through the API")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        share, earlier = self._share(delivery.variant), progress.get("sent_at") or ""
        progress.put("sent_at", self.services.clock.now().isoformat())
        try:
            response = self.api.request("POST", SHARE, create=True, **share)
        except TemporaryError:
            progress.put("sent_at", earlier)  # it never left
            raise
        return self._answer(delivery, progress, response, earlier)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """Third-party apps cannot read their own timeline back: Weibo cannot tell, unless no share
        ever left (no `sent_at`: a worker died before sending), when sending it is safe."""
        if not progress.get("sent_at"):
            raise TemporaryError(self.name, "statuses/share was never sent for this delivery: safe to send")
        return None

    def verify(self) -> ChannelReport:
        try:
            info = self._token_info()
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc), LIMITS)
        detail = f"token of uid {info.get('uid')} valid for {info.get('expire_in')} s more"
        return ChannelReport(self.name, True, detail, LIMITS, _quota(self._rate_status()))

    def _answer(self, delivery: Delivery, progress: Progress, response: requests.Response, earlier: str) -> Receipt:
        body = _json(response)
        if response.ok and (idstr := _idstr(body)):
            return Receipt(idstr, STATUS_URL.format(idstr))
        if _code(body) in DUPLICATE and earlier:
            log.warning("delivery %s: Weibo calls it a duplicate of our attempt at %s; check", delivery.id, earlier)
            return Receipt(DUP_INFERRED)
        error = self._refusal(SHARE, response, body, create=True)
        if not isinstance(error, OutcomeUnknown):
            progress.put("sent_at", earlier)  # Weibo answered: nothing was posted this time
        raise error

    def _share(self, variant: Variant) -> dict[str, Any]:
        """The request's form with the token, and its picture as a multipart file when there is one."""
        fields, files = share_form(variant, self.config)
        data = {"access_token": self.secret("access_token")} | fields
        if not files:
            return {"data": data}
        return {"data": data, "files": {name: (c.path.name, self.card_bytes(c), _mime(c)) for name, c in files.items()}}

    def _refusal(self, path: str, response: requests.Response, body: dict[str, Any], *, create: bool) -> PublishError:
        code = _code(body)
        what = f"{path} answered {response.status_code}, error_code {code}: {body.get('error', '')}"
        if code in AUTH:
            return AuthError(self.name, f"{what}; re-authorize the app (Weibo has no refresh token)")
        if code in RATE:
            return TemporaryError(self.name, f"{what} (rate limited)", self._wait(code))
        if code in DUPLICATE:
            return ContentRejected(self.name, f"{what}: the same text is on the account, not from this delivery")
        if code in REJECTED:
            return ContentRejected(self.name, what)
        if code in SYSTEM or (code is None and response.ok):  # may have been carried out
            return OutcomeUnknown(self.name, what) if create else TemporaryError(self.name, what)
        return self.api.status_error(response, create=create, message=f"error_code {code}: {body.get('error', '')}")

    def _wait(self, code: int) -> float:
        """The hour window, or sooner when rate_limit_status says the hit counters reset sooner."""
        status = self._rate_status() if code in HITS else None
        reset = status.get("reset_time_in_seconds") if status else None
        return float(reset) if isinstance(reset, int | float) and 0 < reset < HOUR else HOUR

    def _token_info(self) -> dict[str, Any]:
        response = self.api.request("POST", TOKEN_INFO, data={"access_token": self.secret("access_token")})
        body = _json(response)
        if not response.ok or "expire_in" not in body:
            raise self._refusal(TOKEN_INFO, response, body, create=False)
        if not isinstance(body["expire_in"], int) or body["expire_in"] <= 0:
            raise AuthError(self.name, "the access token has expired; re-authorize the app")
        return body

    def _rate_status(self) -> dict[str, Any] | None:
        """Remaining hits and the reset, if the endpoint answers [unconfirmed that it is current]."""
        try:
            response = self.api.request("GET", RATE_STATUS, params={"access_token": self.secret("access_token")})
        except PublishError:
            return None
        body = _json(response)
        return body if response.ok and "error_code" not in body else None


def share_form(variant: Variant, config: ChannelConfig) -> tuple[dict[str, str], dict[str, Card]]:
    """statuses/share's form fields (no token) and its file: the first card as `pic`, when there is one."""
    fields = {"status": variant.text}
    if rip := str(config.options.get("rip", "")):
        fields["rip"] = rip
    return fields, {"pic": variant.cards[0]} if variant.cards else {}


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _code(body: dict[str, Any]) -> int | None:
    code = body.get("error_code")
    return int(code) if isinstance(code, int | str) and str(code).isdigit() else None


def _idstr(body: dict[str, Any]) -> str | None:
    value = body.get("idstr") or body.get("id")
    return str(value) if isinstance(value, str | int) and "error_code" not in body else None


def _mime(card: Card) -> str:
    return mimetypes.guess_type(card.path.name)[0] or "application/octet-stream"


def _quota(status: dict[str, Any] | None) -> str | None:
    if status is None:
        return None
    user, ip, reset = (status.get(k) for k in ("remaining_user_hits", "remaining_ip_hits", "reset_time_in_seconds"))
    return f"{user} user and {ip} IP calls left this hour; the counters reset in {reset} s"
