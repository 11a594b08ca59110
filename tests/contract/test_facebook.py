"""Facebook beyond the shared faults: photo and feed payloads, alt text, read-back, the error table, verify()."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import pytest

from pipeline.model import Variant
from pipeline.publish.base import Progress
from pipeline.publish.facebook import HOUR, SETTLE, FacebookPublisher
from pipeline.records import Delivery, DeliveryStatus
from tests.contract.apis.facebook import channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.facebook import PAGE_ID, TOKEN, FacebookEmulator


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[FacebookEmulator]:
    monkeypatch.setenv("TEST_FACEBOOK_TOKEN", TOKEN)
    with FacebookEmulator() as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: FacebookEmulator) -> FacebookPublisher:
    return FacebookPublisher("facebook", channel(emulator), harness.services)


def _variant(harness: Harness, cards: int = 1, lang: str = "zh") -> Variant:
    variant = harness.example.variant("facebook", lang)
    return dataclasses.replace(variant, cards=variant.cards[:1] * cards)


def _seed(emulator: FacebookEmulator, message: str) -> str:
    """A post already on the Page (last week's, or someone's by hand) with this message."""
    post = {"id": f"{PAGE_ID}_1", "message": message, "photos": [], "created_time": "2026-11-23T01:00:00+0000"}
    emulator.posts.append(post | {"permalink_url": f"https://www.facebook.com/{PAGE_ID}/posts/1"})
    return post["id"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_one_card_is_a_published_photo_with_its_caption_and_alt_text(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher, lang: str
) -> None:
    variant = _variant(harness, lang=lang)
    delivery = harness.publish(publisher, variant)
    assert [r.endpoint for r in emulator.requests] == ["published_posts", "photos", "read"]
    [photo] = emulator.calls("photos")
    card = variant.cards[0]
    assert photo.path == f"/v25.0/{PAGE_ID}/photos" and photo.args == {}  # the token is never in a POST's URL
    assert photo.form == {
        "message": variant.text,
        "published": "true",
        "alt_text_custom": card.alt,
        "access_token": TOKEN,
    }
    assert photo.files == {"source": (card.path.name, "image/png", (harness.example.root / card.path).stat().st_size)}
    [post] = emulator.posts
    assert (delivery.remote_id, delivery.url) == (post["id"], post["permalink_url"])
    assert delivery.progress == {"prior_posts": "", "post_id": post["id"]}


def test_several_cards_are_uploaded_unpublished_then_attached_to_one_feed_post(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher
) -> None:
    variant = _variant(harness, cards=2)
    delivery = harness.publish(publisher, variant)
    uploads, [feed] = emulator.calls("photos"), emulator.calls("feed")
    assert [u.form for u in uploads] == [
        {"published": "false", "alt_text_custom": variant.cards[0].alt, "access_token": TOKEN}
    ] * 2
    photo_ids = [delivery.progress["photo_0"], delivery.progress["photo_1"]]
    assert feed.form == {
        "message": variant.text,
        "attached_media[0]": json.dumps({"media_fbid": photo_ids[0]}),
        "attached_media[1]": json.dumps({"media_fbid": photo_ids[1]}),
        "access_token": TOKEN,
    }
    [post] = emulator.posts
    assert post["photos"] == photo_ids and delivery.remote_id == post["id"]
    assert all(emulator.uploads[p]["attached"] and emulator.uploads[p]["alt"] for p in photo_ids)


def test_an_unanswered_feed_post_is_read_back_then_sent_again_with_the_same_photos(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher
) -> None:
    emulator.inject("feed", Fault.server_error(500))
    delivery = harness.publish(publisher, _variant(harness, cards=2))
    assert delivery.status == "published" and len(emulator.posts) == 1
    assert len(emulator.calls("photos")) == 2 and len(emulator.calls("feed")) == 2  # no photo uploaded twice
    assert harness.waits[0].total_seconds() >= SETTLE and delivery.progress["unanswered"] == "yes"


def test_text_only_goes_to_the_feed(harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher) -> None:
    variant = _variant(harness, cards=0)
    assert harness.publish(publisher, variant).status == "published"
    [feed] = emulator.calls("feed")
    assert feed.form == {"message": variant.text, "access_token": TOKEN} and emulator.calls("photos") == []


@pytest.mark.parametrize(
    ("code", "subcode", "status", "outcome"),
    [
        (1, None, 400, "published"),  # transient on the create: read back, not there, sent again
        (2, None, 500, "published"),
        *[(code, None, 400, "published") for code in (4, 17, 32, 613, 80001)],
        *[(190, sub, 400, "paused") for sub in (None, 458, 459, 460, 463, 464, 467)],
        *[(code, None, 403, "paused") for code in (10, 200, 299, 368)],
        (100, None, 400, "rejected"),
        (324, None, 400, "rejected"),  # not in the table: the HTTP status decides
        (506, None, 400, "unknown"),  # a duplicate, but not of a post this delivery made
    ],
)
def test_error_code_table(
    harness: Harness,
    emulator: FacebookEmulator,
    publisher: FacebookPublisher,
    code: int,
    subcode: int | None,
    status: int,
    outcome: str,
) -> None:
    emulator.refuse_next(code, subcode=subcode, status=status)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == outcome, delivery.error
    assert len(emulator.posts) == (outcome == "published") and TOKEN not in (delivery.error or "")


def test_rate_limits_wait_as_the_usage_headers_say(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher
) -> None:
    emulator.inject("photos", Fault.rate_limited(120))  # estimated_time_to_regain_access: 2 minutes
    assert harness.publish(publisher, _variant(harness)).status == "published"
    assert 120 <= harness.waits[0].total_seconds() < HOUR


def test_an_exhausted_app_quota_waits_an_hour(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher
) -> None:
    emulator.app_usage = 100
    emulator.refuse_next(4, "Application request limit reached")
    assert harness.publish(publisher, _variant(harness)).status == "published"
    assert harness.waits[0].total_seconds() >= HOUR


@pytest.mark.parametrize("fault", [Fault.server_error(500), Fault.slow()], ids=["not-posted", "posted"])
def test_read_back_never_takes_an_older_post_with_the_same_message(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher, fault: Fault
) -> None:
    variant = _variant(harness)
    emulator.duplicate_window = 0  # let the same message be posted again
    older = _seed(emulator, variant.text)
    emulator.inject("photos", fault)
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "published" and delivery.progress["prior_posts"] == older
    assert len(emulator.posts) == 2 and delivery.remote_id == emulator.posts[1]["id"] != older


def test_a_duplicate_of_someone_elses_post_is_left_for_an_editor(
    harness: Harness, emulator: FacebookEmulator, publisher: FacebookPublisher
) -> None:
    variant = _variant(harness)
    _seed(emulator, variant.text)
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "unknown" and "506" in (delivery.error or "") and len(emulator.posts) == 1


def test_reconcile_matches_a_new_post_with_the_message(
    emulator: FacebookEmulator, publisher: FacebookPublisher, harness: Harness
) -> None:
    variant = _variant(harness)
    delivery = Delivery(1, 1, DeliveryStatus.PUBLISHING, 1, dt.datetime.now(dt.UTC), variant)
    post_id = _seed(emulator, variant.text)
    assert publisher.reconcile(delivery, Progress()) is None  # no create was ever attempted
    assert publisher.reconcile(delivery, Progress({"prior_posts": post_id})) is None
    found = publisher.reconcile(delivery, Progress({"prior_posts": ""}))
    assert found is not None and (found.remote_id, found.url) == (post_id, emulator.posts[0]["permalink_url"])


def test_the_graph_version_is_an_option(harness: Harness, emulator: FacebookEmulator) -> None:
    publisher = FacebookPublisher("facebook", channel(emulator, graph_version="v24.0"), harness.services)
    assert harness.publish(publisher, _variant(harness)).status == "published"
    assert {r.path.split("/")[1] for r in emulator.requests} == {"v24.0"}


def test_verify_reads_the_page_and_its_usage(emulator: FacebookEmulator, publisher: FacebookPublisher) -> None:
    report = publisher.verify()
    assert report.ok and "Shenyang" in report.detail and PAGE_ID in report.detail
    assert report.quota and "X-Page-Usage" in report.quota and "X-App-Usage" in report.quota
    assert [r.endpoint for r in emulator.requests] == ["read"] and emulator.posts == []
    emulator.expire_tokens()
    expired = publisher.verify()
    assert not expired.ok and "190/463" in expired.detail and TOKEN not in expired.detail
