"""The post page shows what goes out: each channel's example variant, published by its real publisher
to its emulator, arrives with exactly the fields wire() shows for the post-making request, once the
page's placeholders are replaced by what the emulator issued (media ids, blob refs, image URLs) or
the attempt planned (Bluesky's rkey, the webhook's send time).

Forms are compared field by field, their files by the name they were sent under and JSON fields
decoded where the page shows a structure. Credentials are left out of what was received and must
not appear in the page's payload.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.config import ChannelConfig
from pipeline.model import Card, Variant
from pipeline.publish import bluesky, facebook
from pipeline.publish.outbox import OutboxPublisher
from pipeline.records import Delivery, DeliveryStatus
from pipeline.web.wire import Wire, placeholder, wire
from tests.contract.conftest import Example, Harness
from tests.contract.contracts import Contract
from tests.contract.projects import CONTRACTS
from tests.emulators.base import Emulator, Recorded
from tests.emulators.bluesky import BlueskyEmulator
from tests.emulators.facebook import FacebookEmulator
from tests.emulators.linkedin import LinkedInEmulator
from tests.emulators.mastodon import MastodonEmulator
from tests.emulators.wechat import WechatEmulator
from tests.emulators.x import XEmulator

# -- what the emulator issued (or the attempt planned) for each placeholder -----------------------


def _names(cards: Iterable[Card]) -> list[str]:
    return [card.path.name for card in cards]


def _wechat(emulator: WechatEmulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    cover, image = delivery.variant.cards  # the example's article: a cover and one in-article card
    [cover_id] = [media_id for media_id, m in emulator.materials.items() if m["filename"] == cover.path.name]
    [url] = emulator.image_urls
    return {cover.path.name: cover_id, f"/media/{image.path.name}": url}


def _per_card(delivery: Delivery, ids: Iterable[Any]) -> dict[str, Any]:
    """One id per card, issued in the order the cards were uploaded."""
    return dict(zip(_names(delivery.variant.cards), ids, strict=True))


def _x(emulator: XEmulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    return _per_card(delivery, emulator.media)


def _mastodon(emulator: MastodonEmulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    return _per_card(delivery, emulator.media)


def _linkedin(emulator: LinkedInEmulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    return _per_card(delivery, emulator.images)


def _bluesky(emulator: BlueskyEmulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    refs = [
        {"$type": "blob", "ref": {"$link": ref}, "mimeType": blob.mime, "size": blob.size}
        for ref, blob in emulator.blobs.items()
    ]
    rkey = delivery.progress["rkey"]  # planned before the first attempt
    return _per_card(delivery, refs) | {
        placeholder("the account's DID"): emulator.did,
        placeholder("rkey"): rkey,
        placeholder("the rkey's time"): bluesky.tid_time(rkey),
    }


def _facebook(emulator: FacebookEmulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    unpublished = [photo_id for photo_id, photo in emulator.uploads.items() if not photo["published"]]
    return dict(zip(_names(facebook.photos_first(delivery.variant)), unpublished, strict=True))


def _webhook(emulator: Emulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    sent_at = harness.clock.now()  # a publish that succeeds at once leaves the harness's clock where it was
    issued = {placeholder("time of sending"): sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    for card in delivery.variant.cards:
        data = (harness.example.root / card.path).read_bytes()
        issued[placeholder(f"sha256 of {card.path.name}")] = hashlib.sha256(data).hexdigest()
        issued[placeholder(f"base64 of {card.path.name}")] = base64.b64encode(data).decode()
    return issued


def _nothing(emulator: Emulator, delivery: Delivery, harness: Harness) -> dict[str, Any]:
    return {}  # files go as multipart uploads, named as the page names them


ISSUED: dict[str, Callable[[Any, Delivery, Harness], dict[str, Any]]] = {
    "wechat": _wechat,
    "weibo": _nothing,
    "x": _x,
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "telegram": _nothing,
    "facebook": _facebook,
    "linkedin": _linkedin,
    "webhook": _webhook,
}


def _filled(value: Any, issued: dict[str, Any]) -> Any:
    """The page's value with each placeholder replaced by what was issued for it (inside text too,
    as WeChat's in-article image URLs are)."""
    if isinstance(value, dict):
        return {key: _filled(item, issued) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, issued) for item in value]
    if not isinstance(value, str):
        return value
    if value in issued:
        return issued[value]
    for shown, actual in issued.items():
        value = value.replace(shown, actual) if isinstance(actual, str) else value
    return value


# -- what the emulator received -------------------------------------------------------------------


def _post_request(emulator: Emulator, sent: Wire) -> Recorded:
    """The last POST to the call the page names (its first path: "POST /2/tweets", "sendPhoto", ...)."""
    path = urlsplit(sent.call.split(",")[0].split()[-1]).path
    found = [r for r in emulator.requests if r.method == "POST" and r.path.endswith(path)]
    assert found, f"no request to {sent.call}"
    return found[-1]


def _received(request: Recorded, sent: Wire, secrets: Iterable[str]) -> dict[str, Any]:
    """The request's fields: a JSON body, or a form with its files by name, without credentials."""
    if not (request.form or request.files):
        body = request.json()
        assert isinstance(body, dict)
        return body
    fields = request.form | {name: filename for name, (filename, _, _) in request.files.items()}
    return {
        key: json.loads(value) if isinstance(sent.body.get(key), dict | list) else value
        for key, value in fields.items()
        if value not in set(secrets)
    }


# -- the variants -------------------------------------------------------------------------------


def _album(example: Example, variant: Variant) -> Variant:
    """The variant with a second card (another channel's, a different file and alt text), for the
    calls that carry several: albums, attached photos, multi-image posts."""
    taken = {card.path for card in variant.cards}
    other = next(
        card
        for (_, lang), v in example.variants.items()
        if lang == variant.lang
        for card in v.cards
        if card.path not in taken and card.path.suffix == ".png"
    )
    return dataclasses.replace(variant, cards=(*variant.cards, other))


# WeChat's example already has an in-article card; a second one's URL could not be told from the first.
CASES = [(c, lang, False) for c in CONTRACTS for lang in ("zh", "en")] + [
    (c, "zh", True) for c in CONTRACTS if c.type != "wechat"
]


@pytest.mark.parametrize(
    ("contract", "lang", "album"),
    CASES,
    ids=[f"{c.type}-{lang}{'-album' if album else ''}" for c, lang, album in CASES],
)
def test_the_emulator_receives_the_payload_the_page_shows(
    contract: Contract, lang: str, album: bool, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in contract.secrets.items():
        monkeypatch.setenv(name, value)
    variant = harness.example.variant(contract.type, lang)
    variant = _album(harness.example, variant) if album else variant
    with contract.emulator(harness.clock) as emulator:
        config = contract.channel(emulator)
        publisher = contract.publisher(contract.type, config, harness.services)
        delivery = harness.publish(publisher, variant)
        assert delivery.status == DeliveryStatus.PUBLISHED, delivery.error
        sent = wire(dataclasses.replace(delivery, progress={}), config)  # as the page showed it before sending
        issued = ISSUED[contract.type](emulator, delivery, harness)
        received = _received(_post_request(emulator, sent), sent, contract.secrets.values())
        assert received == _filled(sent.body, issued)
        assert _filled(wire(delivery, config).body, issued) == received  # and after, with the keys it planned
    assert not any(secret in sent.as_json() for secret in contract.secrets.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("album", [False, True], ids=["example", "album"])
def test_the_outbox_writes_the_document_the_page_shows(
    harness: Harness, lang: str, album: bool, tmp_path: Path
) -> None:
    config, services = ChannelConfig(type="outbox"), dataclasses.replace(harness.services, outbox=tmp_path)
    variant = harness.example.variant("outbox", lang)
    variant = _album(harness.example, variant) if album else variant
    delivery = harness.publish(OutboxPublisher("outbox", config, services), variant)
    assert delivery.status == DeliveryStatus.PUBLISHED, delivery.error
    sent = wire(delivery, config)
    written = tmp_path / "outbox" / f"delivery-{delivery.id}.json"
    assert sent.call == f"write var/outbox/outbox/{written.name}"  # the project's outbox folder
    assert json.loads(written.read_text(encoding="utf-8")) == sent.body
    assert all((written.parent / card["path"]).is_file() for card in sent.body["cards"])
