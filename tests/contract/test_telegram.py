"""Telegram beyond the shared faults: message, photo and album payloads, UTF-16 limits, the error table, verify()."""

from __future__ import annotations

import dataclasses
import html
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pipeline.model import Card, Variant
from pipeline.publish.telegram import TelegramPublisher
from tests.contract.apis.telegram import channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.telegram import CHAT, CHAT_ID, TOKEN, Chat, TelegramEmulator

GROUP, SUPERGROUP = -4001234567, -1009876543210


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[TelegramEmulator]:
    monkeypatch.setenv("TEST_TELEGRAM_TOKEN", TOKEN)
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: TelegramEmulator) -> TelegramPublisher:
    return TelegramPublisher("telegram", channel(emulator), harness.services)


def _variant(harness: Harness, text: str | None = None, cards: int = 1, lang: str = "zh") -> Variant:
    variant = harness.example.variant("telegram", lang)
    text = variant.text if text is None else text
    return dataclasses.replace(variant, text=text, cards=variant.cards[:1] * cards)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_one_card_is_a_photo_with_the_text_as_its_html_caption(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher, lang: str
) -> None:
    variant = _variant(harness, lang=lang)
    delivery = harness.publish(publisher, variant)
    [call] = emulator.calls("send_photo")
    card = variant.cards[0]
    caption = html.escape(variant.text, quote=False)
    assert call.form == {"chat_id": CHAT, "caption": caption, "parse_mode": "HTML"}
    assert call.files == {"photo": (card.path.name, "image/png", (harness.example.root / card.path).stat().st_size)}
    [[message]] = emulator.posts
    assert message["caption"] == variant.text and message["photo"][0]["width"] == card.width
    assert (delivery.remote_id, delivery.url) == ("101", "https://t.me/shenyang_city/101")
    assert publisher.check(variant) == []


def test_text_without_cards_is_a_message_whose_markup_characters_arrive_as_written(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher
) -> None:
    text = "沈阳 <b>2023</b> & 1 < 2 > 0"
    delivery = harness.publish(publisher, _variant(harness, text, cards=0))
    [call] = emulator.calls("send_message")
    assert call.json() == {
        "chat_id": CHAT,
        "text": "沈阳 &lt;b&gt;2023&lt;/b&gt; &amp; 1 &lt; 2 &gt; 0",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    assert emulator.posts[0][0]["text"] == text and delivery.status == "published"


def test_several_cards_are_one_album_captioned_on_its_first_photo(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher
) -> None:
    variant = _variant(harness, cards=3)
    delivery = harness.publish(publisher, variant)
    [call] = emulator.calls("send_media_group")
    media = json.loads(call.form["media"])
    assert [m["media"] for m in media] == ["attach://p0", "attach://p1", "attach://p2"]
    assert media[0]["caption"] == html.escape(variant.text, quote=False) and "caption" not in media[1]
    assert sorted(call.files) == ["p0", "p1", "p2"]
    [album] = emulator.posts
    assert len({m["media_group_id"] for m in album}) == 1 and [m["message_id"] for m in album] == [101, 102, 103]
    assert (delivery.remote_id, delivery.url) == ("101", "https://t.me/shenyang_city/101")


def test_a_numeric_chat_links_through_t_me_c(harness: Harness, emulator: TelegramEmulator) -> None:
    publisher = TelegramPublisher("telegram", channel(emulator, str(CHAT_ID)), harness.services)
    assert harness.publish(publisher, _variant(harness)).url == "https://t.me/c/1234567890/101"


@pytest.mark.parametrize(
    ("text", "cards", "description"),
    [
        ("😀" * 600, 1, "message caption is too long"),  # 600 code points, 1200 UTF-16 units
        ("沈" * 4097, 0, "message is too long"),
        ("   ", 0, "message text is empty"),
    ],
    ids=["caption-utf16", "text", "empty"],
)
def test_text_over_telegrams_limits_fails(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher, text: str, cards: int, description: str
) -> None:
    variant = _variant(harness, text, cards)
    assert publisher.check(variant)
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "failed" and description in (delivery.error or "") and emulator.posts == []


def test_a_photo_telegram_cannot_show_fails(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher
) -> None:
    path = Path("var/media/telegram-too-wide.png")
    Image.new("RGB", (9000, 1200), "white").save(harness.example.root / path)
    variant = dataclasses.replace(_variant(harness), cards=(Card(path, 9000, 1200, "a wide banner"),))
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "failed" and "PHOTO_INVALID_DIMENSIONS" in (delivery.error or "")


@pytest.mark.parametrize(
    ("token", "chat", "fault", "outcome", "said"),
    [
        ("987654321:AAEothrTelegramBotToken0123456789ab", CHAT, None, "paused", "401: Unauthorized"),
        ("not-a-bot-token", CHAT, None, "paused", "404: Not Found"),
        (TOKEN, "@not_our_channel", None, "paused", "403: Forbidden"),
        (TOKEN, "@nowhere", None, "rejected", "400: Bad Request: chat not found"),
        (TOKEN, CHAT, Fault.server_error(502), "unknown", "502: Bad Gateway"),
        (TOKEN, CHAT, Fault.rate_limited(40), "published", ""),
    ],
    ids=["401", "404", "403", "400", "502", "429"],
)
def test_error_table(
    harness: Harness,
    emulator: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    token: str,
    chat: str,
    fault: Fault | None,
    outcome: str,
    said: str,
) -> None:
    monkeypatch.setenv("TEST_TELEGRAM_TOKEN", token)
    emulator.chats.append(Chat(-1005555555555, "Elsewhere", "not_our_channel", bot_is_admin=False))
    if fault is not None:
        emulator.inject("send_photo", fault)
    publisher = TelegramPublisher("telegram", channel(emulator, chat), harness.services)
    with caplog.at_level(logging.DEBUG):
        delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == outcome and said in (delivery.error or "")
    assert len(emulator.posts) == (outcome == "published")
    assert token not in (delivery.error or "") + caplog.text  # the token is in every URL: never in a message
    if fault is not None and fault.kind == "rate_limited":
        assert harness.waits[0].total_seconds() >= 40


def test_an_unanswered_send_names_the_method_never_the_token(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher
) -> None:
    emulator.inject("send_photo", Fault.slow())
    delivery = harness.publish(publisher, _variant(harness))
    assert (
        delivery.status == "unknown" and "sendPhoto" in (delivery.error or "") and TOKEN not in (delivery.error or "")
    )
    assert "/bot" not in (delivery.error or "")


def test_a_reset_after_sending_is_never_sent_again(
    harness: Harness, emulator: TelegramEmulator, publisher: TelegramPublisher
) -> None:
    emulator.inject("send_photo", Fault.reset())  # Telegram may have acted before the connection dropped
    delivery = harness.publish(publisher, _variant(harness))
    assert delivery.status == "unknown" and len(emulator.calls("send_photo")) == 1
    reasons = " ".join(event.reason or "" for event in harness.store.audit_trail(delivery.post_id))
    assert "sendPhoto: connection lost" in reasons and TOKEN not in reasons


def test_a_group_that_became_a_supergroup_is_followed(harness: Harness, emulator: TelegramEmulator) -> None:
    emulator.chats += [
        Chat(GROUP, "Group", type="group", migrate_to=SUPERGROUP),
        Chat(SUPERGROUP, "Group", type="supergroup"),
    ]
    publisher = TelegramPublisher("telegram", channel(emulator, str(GROUP)), harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert delivery.status == "published" and delivery.progress["chat_id"] == str(SUPERGROUP)
    assert [c.form["chat_id"] for c in emulator.calls("send_photo")] == [str(GROUP), str(SUPERGROUP)]
    assert delivery.url == "https://t.me/c/9876543210/101"


def test_at_least_once_is_not_offered(harness: Harness, emulator: TelegramEmulator) -> None:
    config = channel(emulator, on_unknown="at_least_once")
    publisher = TelegramPublisher("telegram", config, harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and emulator.requests == []
    assert not publisher.verify().ok


def test_verify_checks_the_bot_and_the_chat(harness: Harness, emulator: TelegramEmulator) -> None:
    report = TelegramPublisher("telegram", channel(emulator), harness.services).verify()
    assert report.ok and "@shortline_bot" in report.detail and "channel" in report.detail
    assert report.limits == {"text": 4096, "caption": 1024, "media_group": 10, "photo_bytes": 10_000_000}
    assert [r.endpoint for r in emulator.requests] == ["get_me", "get_chat"] and emulator.posts == []
    emulator.chats[0].bot_is_admin = False
    refused = TelegramPublisher("telegram", channel(emulator), harness.services).verify()
    assert not refused.ok and "getChat answered 403" in refused.detail
