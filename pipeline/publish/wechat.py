"""The WeChat Official Account channel (../shared/api-contracts.md §1): one article per delivery.

The first card becomes the cover (permanent material), the other cards go into the body through
media/uploadimg, the article is saved as a draft, submitted with freepublish, and the job is polled
until WeChat says how it ended. Every id is saved the moment it is returned, so a later attempt
resumes where the last one stopped and never submits twice.

Only freepublish/submit makes anything public, and it has no idempotency. When its answer is lost,
the draft box tells: submit removes the draft, so a draft still waiting was not submitted (try
again), and a vanished one was, and its article is found in freepublish/batchget.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import mimetypes
from collections.abc import Callable, Sequence
from typing import Any

import requests

from ..config import ChannelConfig
from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt, Token
from .base import ChannelReport, Progress, Publisher

Reply = dict[str, Any]

REFRESH = {40001, 40014, 41001, 42001}  # bad, invalid, missing or expired access token
PAUSE = {
    40164: "this server's IP address is not on the account's whitelist",
    48001: "the account is not authorized to use this API",
    53500: "publishing is banned for this account",
}
WAIT: dict[int, float | None] = {-1: None, 45011: 60.0, 53501: 60.0}  # 45009: until midnight, Beijing time
# Every other errcode is permanent: the sheet's 40005/40009/45001 (media), 40007 (media_id),
# 45002/45003/45004 (lengths), 44003/47001 (data), 45166 (content), 53502-53505/53600 (publish).
STATUS = {
    2: "the originality check failed",
    3: "publishing failed",
    4: "the audit rejected it",
    5: "it was deleted after publishing",
    6: "it was banned after publishing",
}
LIMITS = {"title": 32, "digest": 128, "content": 19_999}  # code points; content must stay under 20,000
POLLS, POLL_SECONDS, POLL_AGAIN = 5, 3.0, 30.0
BEIJING = dt.timezone(dt.timedelta(hours=8))  # WeChat's daily quotas restart at midnight there
RECENT = {"offset": 0, "count": 20, "no_content": 1}  # draft/batchget and freepublish/batchget, newest first


class WechatPublisher(Publisher):
    type = "wechat"
    idempotent = False
    default_base_url = "https://api.weixin.qq.com"

    def check(self, variant: Variant) -> list[str]:
        problems = _missing(variant)
        for name, limit in LIMITS.items():
            count = len(_field(variant, name))
            if count > limit:
                problems.append(f"{name}: {count} characters; the limit is {limit}")
        return problems

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        if problems := _missing(delivery.variant):
            raise ContentRejected(self.name, "; ".join(problems))
        try:
            publish_id = progress.get("publish_id") or self._submit_once(delivery.variant, progress)
        except OutcomeUnknown as unknown:  # only freepublish/submit raises it
            return self._after_lost_submit(delivery, progress, unknown)
        return self._poll(publish_id)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        if publish_id := progress.get("publish_id"):
            return self._poll(publish_id)
        draft, cover = progress.get("draft_media_id"), progress.get("cover_media_id")
        if draft is None or cover is None or self._still_waiting(draft):
            return None  # no draft, or it is still in the draft box: nothing was submitted
        return self._find_published(delivery.variant.title or "", cover)

    def verify(self) -> ChannelReport:
        try:
            reply = self._call("/cgi-bin/openapi/quota/get", {"cgi_path": "/cgi-bin/freepublish/submit"})
        except PublishError as exc:
            return ChannelReport(self.name, False, str(exc), dict(LIMITS))
        quota = reply.get("quota") or {}
        used = f"{quota.get('used')} of {quota.get('daily_limit')} used today, {quota.get('remain')} left"
        return ChannelReport(self.name, True, "access token issued", dict(LIMITS), f"freepublish/submit: {used}")

    # -- the steps, each resumable -------------------------------------------------------------

    def _submit_once(self, variant: Variant, progress: Progress) -> str:
        cover = progress.once("cover_media_id", lambda: self._upload_cover(variant.cards[0]))
        urls = [self._image_url(index, card, progress) for index, card in enumerate(variant.cards[1:], 1)]
        draft = self._draft(draft_body(variant, self.config, cover, urls), progress)
        return progress.once("publish_id", lambda: self._submit(draft))

    def _upload_cover(self, card: Card) -> str:
        return self._id(self._call("/cgi-bin/material/add_material", params={"type": "image"}, files=self._media(card)))

    def _image_url(self, index: int, card: Card, progress: Progress) -> str:
        """An in-article image's URL, uploaded once."""
        return progress.once(f"image_url_{index}", lambda: self._upload_image(card))

    def _upload_image(self, card: Card) -> str:
        return self._id(self._call("/cgi-bin/media/uploadimg", files=self._media(card)), "url")

    def _media(self, card: Card) -> dict[str, tuple[str, bytes, str]]:
        kind = mimetypes.guess_type(card.path.name)[0] or "application/octet-stream"
        return {"media": (card.path.name, self.card_bytes(card), kind)}

    def _draft(self, body: Reply, progress: Progress) -> str:
        """The draft's media_id; an earlier draft/add that went unanswered is looked for before another."""
        if saved := progress.get("draft_media_id"):
            return saved
        if progress.get("draft_sent") and (found := self._find_draft(body["articles"][0])):
            progress.put("draft_media_id", found)
            return found
        progress.put("draft_sent", "1")
        return progress.once("draft_media_id", lambda: self._id(self._call("/cgi-bin/draft/add", body)))

    def _submit(self, draft: str) -> str:
        reply = self._call("/cgi-bin/freepublish/submit", {"media_id": draft}, create=True)
        return self._id(reply, "publish_id")  # a number in real replies, a string in the docs

    def _after_lost_submit(self, delivery: Delivery, progress: Progress, unknown: OutcomeUnknown) -> Receipt:
        """Submit removes the draft: one still waiting was not submitted (try again), else find its article."""
        draft, cover = progress.get("draft_media_id") or "", progress.get("cover_media_id") or ""
        try:
            waiting = self._still_waiting(draft)
            found = None if waiting else self._find_published(delivery.variant.title or "", cover)
        except PublishError:
            raise unknown from None  # the lookups failed: it may have gone out, so never submit blindly
        if waiting:
            raise TemporaryError(self.name, "freepublish/submit went unanswered; its draft still waits to be submitted")
        if found is None:
            raise unknown
        return found

    def _poll(self, publish_id: str) -> Receipt:
        for poll in range(POLLS):
            if poll:
                self.services.clock.sleep(POLL_SECONDS)
            reply = self._call("/cgi-bin/freepublish/get", {"publish_id": publish_id})
            if reply.get("publish_status") != 1:
                return self._finished(publish_id, reply)
        raise TemporaryError(self.name, f"publish job {publish_id} is still running", POLL_AGAIN)

    def _finished(self, publish_id: str, reply: Reply) -> Receipt:
        status = reply.get("publish_status")
        if status == 0:
            items = (reply.get("article_detail") or {}).get("item") or [{}]
            return Receipt(self._id(reply, "article_id"), items[0].get("article_url"))
        why = STATUS.get(status, "an undocumented status") if isinstance(status, int) else "no status"
        detail = f"publish_status {status}: {why}; fail_idx {reply.get('fail_idx') or []}"
        raise ContentRejected(self.name, f"publish job {publish_id} ended with {detail}")

    # -- finding what an unanswered request did --------------------------------------------------

    def _find_draft(self, article: Reply) -> str | None:
        match = _matching(self._call("/cgi-bin/draft/batchget", RECENT), article["title"], article["thumb_media_id"])
        return self._id(match[0]) if match else None

    def _still_waiting(self, draft: str) -> bool:
        items = self._call("/cgi-bin/draft/batchget", RECENT).get("item") or []
        return any(item.get("media_id") == draft for item in items)

    def _find_published(self, title: str, cover: str) -> Receipt | None:
        """The article a submitted draft became, looked for while the job may still be running."""
        for poll in range(POLLS):
            if poll:
                self.services.clock.sleep(POLL_SECONDS)
            match = _matching(self._call("/cgi-bin/freepublish/batchget", RECENT), title, cover)
            if match:
                return Receipt(self._id(match[0], "article_id"), match[1].get("url"))
        return None

    # -- calls, tokens and errcodes --------------------------------------------------------------

    def _call(self, path: str, body: Reply | None = None, *, create: bool = False, **kwargs: Any) -> Reply:
        """One call with the shared token; a refused token is refreshed once and the call repeated once."""
        token = self._token()
        reply = self._send(path, body, token, create=create, **kwargs)
        if _errcode(reply) in REFRESH:
            reply = self._send(path, body, self._refresh(token), create=create, **kwargs)
            if _errcode(reply) in REFRESH:
                raise AuthError(self.name, f"{path}: {_describe(reply)}; refused again after a token refresh")
        if _errcode(reply):
            raise self._refusal(path, reply)
        return reply

    def _send(
        self,
        path: str,
        body: Reply | None,
        token: str | None,
        *,
        create: bool = False,
        params: Reply | None = None,
        files: Any = None,
    ) -> Reply:
        query = ({"access_token": token} if token else {}) | (params or {})
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()  # WeChat shows \u escapes as is
        headers = {} if body is None else {"Content-Type": "application/json; charset=utf-8"}
        response = self.api.request("POST", path, create=create, params=query, data=data, headers=headers, files=files)
        if response.status_code != 200:
            raise self.api.status_error(response, create=create)
        return self._json(path, response, create)

    def _json(self, path: str, response: requests.Response, create: bool) -> Reply:
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            kind = OutcomeUnknown if create else TemporaryError
            raise kind(self.name, f"{path} answered 200 without a JSON object")
        return reply

    def _refusal(self, path: str, reply: Reply) -> PublishError:
        code, text = _errcode(reply), f"{path}: {_describe(reply)}"
        if code in PAUSE:
            return AuthError(self.name, f"{text}: {PAUSE[code]}")
        if code == 45009:
            return TemporaryError(self.name, f"{text}: daily quota used up", _until_midnight(self.services.clock.now()))
        if code in WAIT:
            return TemporaryError(self.name, text, WAIT[code])
        return ContentRejected(self.name, text)

    def _id(self, reply: Reply, key: str = "media_id") -> str:
        value = reply.get(key)
        if value is None or value == "":
            raise TemporaryError(self.name, f"a reply came without {key}")
        return str(value)

    def _token(self) -> str:
        now, key = self.services.clock.now(), self._token_key()
        token = self.services.tokens.get(key)
        if token is None or not token.usable(now):
            token = self.services.tokens.renew(key, _usable(now), lambda _: self._fetch_token(force=False))
        return token.value

    def _refresh(self, failed: str) -> str:
        """A new token after `failed` was refused: one force_refresh, however many processes saw it fail."""
        now = self.services.clock.now()

        def good(token: Token | None) -> bool:  # another process may have replaced it already
            return token is not None and token.value != failed and token.usable(now)

        return self.services.tokens.renew(self._token_key(), good, lambda _: self._fetch_token(force=True)).value

    def _fetch_token(self, *, force: bool) -> Token:
        path = "/cgi-bin/stable_token"
        body = {"grant_type": "client_credential", "appid": self.secret("appid"), "secret": self.secret("secret")}
        reply = self._send(path, body | {"force_refresh": force}, None)
        if _errcode(reply):
            error = self._refusal(path, reply)
            if isinstance(error, TemporaryError | AuthError):
                raise error
            raise AuthError(self.name, f"{path}: {_describe(reply)}: the appid or secret was refused")
        expires_at = self.services.clock.now() + dt.timedelta(seconds=int(reply.get("expires_in", 300)))
        return Token(self._id(reply, "access_token"), expires_at)

    def _token_key(self) -> str:
        return f"wechat:{self.secret('appid')}"


def draft_body(variant: Variant, config: ChannelConfig, cover: str, image_urls: Sequence[str]) -> Reply:
    """draft/add's body: one news article whose cover is the permanent material `cover` and whose
    in-article cards (every card after the first) are at `image_urls`, as media/uploadimg returned them."""
    content = article_content(variant, image_urls)
    article: Reply = {"article_type": "news", "title": variant.title, "content": content, "thumb_media_id": cover}
    article |= {"need_open_comment": 0, "only_fans_can_comment": 0}
    if variant.digest:
        article["digest"] = variant.digest
    if author := str(config.options.get("author", "")):
        article["author"] = author
    if config.link:
        article["content_source_url"] = config.link
    return {"articles": [article]}


def article_content(variant: Variant, image_urls: Sequence[str]) -> str:
    """The article's HTML with an <img> per in-article card, at its URL and with its alt text."""
    cards = variant.cards[1:]
    images = [
        f'<img src="{html.escape(url)}" alt="{html.escape(card.alt)}">'
        for url, card in zip(image_urls, cards, strict=True)
    ]
    return with_images(variant.html or "", images)


def with_images(body: str, images: list[str]) -> str:
    """The in-article images, right after the first paragraph (the source line), else at the end."""
    at = body.find("</p>")
    joined = "".join(images)
    return body[: at + 4] + joined + body[at + 4 :] if at >= 0 else body + joined


def _missing(variant: Variant) -> list[str]:
    problems = [] if variant.title else ["an article needs a title"]
    return problems + ([] if variant.cards else ["an article needs a cover image (its first card)"])


def _field(variant: Variant, name: str) -> str:
    return (variant.html if name == "content" else getattr(variant, name)) or ""


def _matching(reply: Reply, title: str, cover: str) -> tuple[Reply, Reply] | None:
    """The newest (item, news_item) with this title and cover: the cover's media_id is this delivery's own."""
    for item in reply.get("item") or []:
        for news in (item.get("content") or {}).get("news_item") or []:
            if news.get("title") == title and news.get("thumb_media_id") == cover:
                return item, news
    return None


def _usable(now: dt.datetime) -> Callable[[Token | None], bool]:
    return lambda token: token is not None and token.usable(now)


def _errcode(reply: Reply) -> int:
    code = reply.get("errcode", 0)
    return code if isinstance(code, int) else -1


def _describe(reply: Reply) -> str:
    return f"errcode {reply.get('errcode')} {str(reply.get('errmsg', ''))[:200]}".rstrip()


def _until_midnight(now: dt.datetime) -> float:
    local = now.astimezone(BEIJING)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BEIJING)
    return (midnight - local).total_seconds() + 60  # a minute past, so the new day has surely begun
