"""What each channel's publisher sends for a delivery, as data the post page can show.

Every payload comes from its publisher's own request builder (pipeline/publish/<type>.py), the one
publish() sends, so the page cannot drift from what goes out. What only sending produces stands in
as a placeholder: media an API uploads first (answering an id) by their card's file name, WeChat's
in-article images by their media URL, and anything else (Bluesky's DID, a send time, a card's
digest) as `placeholder(what)`. The builders take no credentials, so none can appear in a Wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import ChannelConfig
from ..model import Card, Variant
from ..publish import bluesky, facebook, linkedin, mastodon, outbox, telegram, webhook, wechat, weibo, x
from ..records import Delivery

__all__ = ["Wire", "article_html", "placeholder", "wire"]


@dataclass(frozen=True)
class Wire:
    """The call that makes the post and the fields it sends, after the media uploads it needs
    (no credentials; uploaded media appear by their card file, where the API returns an id)."""

    call: str
    body: dict[str, Any]
    uploads: tuple[tuple[str, dict[str, Any]], ...] = ()

    def as_json(self) -> str:
        """The requests in the order they are made, as JSON."""
        calls = [{"call": call} | fields for call, fields in (*self.uploads, (self.call, self.body))]
        return json.dumps(calls, ensure_ascii=False, indent=2)


def wire(delivery: Delivery, config: ChannelConfig) -> Wire:
    """The request the channel's publisher makes for this delivery (see pipeline/publish/<type>.py)."""
    return WIRES[config.type](delivery, config)


def placeholder(what: str) -> str:
    """A value only sending makes, shown by what it will be."""
    return f"<{what}>"


def article_html(variant: Variant) -> str:
    """The draft's content as the publisher builds it, its in-article cards at their media URLs here
    (where the publisher puts the URLs media/uploadimg returns)."""
    return wechat.article_content(variant, _image_urls(variant))


# -- the payloads, one per publisher -----------------------------------------------------------


def _media(card: Card) -> str:
    return card.path.name


def _form(fields: dict[str, Any], files: dict[str, Card]) -> dict[str, Any]:
    """A multipart request's fields, its files by their card's file name (the name they are sent under)."""
    return fields | {name: _media(card) for name, card in files.items()}


def _image_urls(variant: Variant) -> list[str]:
    return [f"/media/{_media(card)}" for card in variant.cards[1:]]


def _outbox(delivery: Delivery, config: ChannelConfig) -> Wire:
    return Wire(f"write var/outbox/{delivery.channel}/delivery-{delivery.id}.json", outbox.document(delivery))


def _webhook(delivery: Delivery, config: ChannelConfig) -> Wire:
    cards = [
        webhook.inline_card(card, placeholder(f"sha256 of {_media(card)}"), placeholder(f"base64 of {_media(card)}"))
        for card in delivery.variant.cards
    ]
    event = webhook.event_body(delivery, cards, placeholder("time of sending"))
    return Wire(f"POST {config.base_url or ''}", event)


def _wechat(delivery: Delivery, config: ChannelConfig) -> Wire:
    cards = delivery.variant.cards
    body = wechat.draft_body(delivery.variant, config, _media(cards[0]) if cards else "", _image_urls(delivery.variant))
    cover = [("POST /cgi-bin/material/add_material?type=image", {"media": _media(card)}) for card in cards[:1]]
    images = [("POST /cgi-bin/media/uploadimg", {"media": _media(card)}) for card in cards[1:]]
    return Wire("POST /cgi-bin/draft/add, then /cgi-bin/freepublish/submit", body, (*cover, *images))


def _weibo(delivery: Delivery, config: ChannelConfig) -> Wire:
    return Wire("POST /2/statuses/share.json", _form(*weibo.share_form(delivery.variant, config)))


def _x(delivery: Delivery, config: ChannelConfig) -> Wire:
    cards = delivery.variant.cards
    uploads = [
        ("POST /2/media/upload, /2/media/metadata", {"media": _media(card), "alt_text": card.alt[: x.MAX_ALT]})
        for card in cards
    ]
    return Wire("POST /2/tweets", x.tweet_body(delivery.variant, [_media(card) for card in cards]), tuple(uploads))


def _mastodon(delivery: Delivery, config: ChannelConfig) -> Wire:
    cards = delivery.variant.cards
    uploads = [("POST /api/v2/media", {"file": _media(card), "description": card.alt}) for card in cards]
    body = mastodon.status_body(delivery.variant, [_media(card) for card in cards])
    return Wire("POST /api/v1/statuses", body, tuple(uploads))


def _bluesky(delivery: Delivery, config: ChannelConfig) -> Wire:
    """The record under the rkey the first attempt planned (every retry sends it again), if one did."""
    variant, rkey = delivery.variant, delivery.progress.get("rkey")
    created_at = bluesky.tid_time(rkey) if rkey else placeholder("the rkey's time")
    record = bluesky.post_record(variant, created_at, [_media(card) for card in variant.cards])
    body = bluesky.create_body(placeholder("the account's DID"), rkey or placeholder("rkey"), record)
    uploads = [("POST /xrpc/com.atproto.repo.uploadBlob", {"blob": _media(card)}) for card in variant.cards]
    return Wire("POST /xrpc/com.atproto.repo.createRecord", body, tuple(uploads))


def _telegram(delivery: Delivery, config: ChannelConfig) -> Wire:
    """Sent to the chat a migrated group moved to, as the publisher does, else to options.chat_id."""
    chat = delivery.progress.get("chat_id") or str(config.options.get("chat_id", ""))
    method, fields, files = telegram.send_request(delivery.variant, chat)
    return Wire(method, _form(fields, files))


def _facebook(delivery: Delivery, config: ChannelConfig) -> Wire:
    page, first = str(config.options.get("page_id", "")), facebook.photos_first(delivery.variant)
    edge, fields, files = facebook.post_form(delivery.variant, [_media(card) for card in first])
    uploads = [(f"POST /{page}/photos", _form(*facebook.photo_form(card))) for card in first]
    return Wire(f"POST /{page}/{edge}", _form(fields, files), tuple(uploads))


def _linkedin(delivery: Delivery, config: ChannelConfig) -> Wire:
    cards = delivery.variant.cards
    body = linkedin.post_body(delivery.variant, config, [_media(card) for card in cards])
    uploads = [("POST /rest/images?action=initializeUpload, then PUT", {"image": _media(card)}) for card in cards]
    return Wire("POST /rest/posts", body, tuple(uploads))


WIRES: dict[str, Callable[[Delivery, ChannelConfig], Wire]] = {
    "outbox": _outbox,
    "webhook": _webhook,
    "wechat": _wechat,
    "weibo": _weibo,
    "x": _x,
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "telegram": _telegram,
    "facebook": _facebook,
    "linkedin": _linkedin,
}
