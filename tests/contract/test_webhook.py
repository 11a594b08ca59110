"""The signed webhook channel beyond the shared faults: signature, payload, refusals."""

from __future__ import annotations

import base64
import hashlib

import pytest

from pipeline.config import ChannelConfig
from pipeline.publish.webhook import WebhookPublisher, sign
from tests.contract.apis.webhook import SECRET, channel
from tests.contract.conftest import Harness
from tests.emulators.webhook import WebhookEmulator


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> WebhookEmulator:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", SECRET)
    with WebhookEmulator(SECRET) as emulator:
        yield emulator  # type: ignore[misc]


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signature = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_event_carries_the_variant_and_its_cards(harness: Harness, emulator: WebhookEmulator) -> None:
    publisher = WebhookPublisher("webhook", channel(emulator), harness.services)
    variant = harness.example.variant("webhook", "zh")
    delivery = harness.publish(publisher, variant)
    [(message_id, event)] = emulator.posts.items()
    assert delivery.remote_id == message_id == delivery.progress["webhook_id"]
    assert delivery.url == f"https://cms.example.org/posts/{message_id}"
    data = event["data"]
    assert event["type"] == "post.publish" and data["text"] == variant.text and data["lang"] == "zh"
    [card] = data["cards"]
    image = base64.b64decode(card["data"])
    assert hashlib.sha256(image).hexdigest() == card["sha256"] and card["alt"] == variant.cards[0].alt
    assert image == (harness.example.root / variant.cards[0].path).read_bytes()


@pytest.mark.parametrize("status", [410, 301, 401])
def test_gone_redirecting_or_refusing_endpoint_pauses_the_channel(
    harness: Harness, emulator: WebhookEmulator, status: int
) -> None:
    emulator.answer_status = status
    publisher = WebhookPublisher("webhook", channel(emulator), harness.services)
    delivery = harness.publish(publisher, harness.example.variant("webhook"))
    assert harness.outcome(publisher, delivery) == "paused" and str(status) in (delivery.error or "")


def test_content_refused_by_the_receiver_fails_the_delivery(harness: Harness, emulator: WebhookEmulator) -> None:
    emulator.answer_status = 422
    publisher = WebhookPublisher("webhook", channel(emulator), harness.services)
    assert harness.publish(publisher, harness.example.variant("webhook")).status == "failed"


def test_private_address_refused_unless_allowed(harness: Harness, emulator: WebhookEmulator) -> None:
    config = ChannelConfig(type="webhook", base_url=emulator.endpoint, credentials={"secret": "${TEST_WEBHOOK_SECRET}"})
    publisher = WebhookPublisher("webhook", config, harness.services)
    delivery = harness.publish(publisher, harness.example.variant("webhook"))
    assert harness.outcome(publisher, delivery) == "paused" and "non-public address" in (delivery.error or "")
    assert emulator.requests == []
    assert not publisher.verify().ok


def test_malformed_secret_pauses_without_sending(
    harness: Harness, emulator: WebhookEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "not-a-whsec-secret")
    publisher = WebhookPublisher("webhook", channel(emulator), harness.services)
    delivery = harness.publish(publisher, harness.example.variant("webhook"))
    assert harness.outcome(publisher, delivery) == "paused" and emulator.requests == []
    assert "not-a-whsec-secret" not in (delivery.error or "")
