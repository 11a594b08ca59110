"""X beyond the shared faults: payloads, OAuth 2 refresh with rotation, X's error table, read-back, verify()."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator

import pytest

from pipeline.errors import ContentRejected, OutcomeUnknown, TemporaryError
from pipeline.model import Variant
from pipeline.publish.base import Progress
from pipeline.publish.x import XPublisher, _rate_wait
from pipeline.records import Delivery, DeliveryStatus
from pipeline.testing import FakeClock
from tests.contract.apis.x import ACCESS, CLIENT_ID, REFRESH, SECRETS, channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.x import TOO_LONG, XEmulator

LONG_ZH = "沈" * 141  # 141 characters, 282 weighted: within a character count, over X's


@pytest.fixture
def emulator(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[XEmulator]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with XEmulator(ACCESS, REFRESH, CLIENT_ID, clock=harness.clock) as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: XEmulator) -> XPublisher:
    return XPublisher("x", channel(emulator), harness.services)


def _variant(harness: Harness, text: str | None = None, lang: str = "zh") -> Variant:
    variant = harness.example.variant("x", lang)
    return variant if text is None else dataclasses.replace(variant, text=text)


def _delivery(variant: Variant) -> Delivery:
    return Delivery(1, 1, DeliveryStatus.PUBLISHING, 1, dt.datetime.now(dt.UTC), variant)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_uploads_the_card_with_alt_text_then_posts_the_text(
    harness: Harness, emulator: XEmulator, publisher: XPublisher, lang: str
) -> None:
    variant = _variant(harness, lang=lang)
    delivery = harness.publish(publisher, variant)
    [upload], [alt], [post] = (
        emulator.calls("upload_media"),
        emulator.calls("media_metadata"),
        emulator.calls("create_tweet"),
    )
    card = variant.cards[0]
    assert upload.form == {"media_category": "tweet_image", "media_type": "image/png"}
    assert upload.files["media"][1:] == ("image/png", len((harness.example.root / card.path).read_bytes()))
    [media] = emulator.media.values()
    assert alt.json() == {"id": media.id, "metadata": {"alt_text": {"text": card.alt}}} and media.alt == card.alt
    assert post.json() == {"text": variant.text, "media": {"media_ids": [media.id]}}
    assert emulator.requests.index(upload) < emulator.requests.index(alt) < emulator.requests.index(post)
    [tweet] = emulator.tweets
    assert (delivery.remote_id, delivery.url) == (tweet.id, f"https://x.com/i/web/status/{tweet.id}")
    assert delivery.progress["x_media_0"] == media.id and post.headers["Authorization"] == f"Bearer {ACCESS}"


def test_media_processing_is_awaited_on_the_services_clock(harness: Harness, emulator: XEmulator) -> None:
    clock = FakeClock(dt.datetime.now(dt.UTC))
    emulator.clock, emulator.processing_polls = clock, 2
    services = dataclasses.replace(harness.services, clock=clock)
    before = clock.now()
    delivery = harness.publish(XPublisher("x", channel(emulator), services), _variant(harness))
    assert delivery.status == "published" and len(emulator.calls("media_status")) == 2
    assert clock.now() - before == dt.timedelta(seconds=2)  # check_after_secs, slept on the clock


@pytest.mark.parametrize("where", ["upload_media", "media_metadata", "create_tweet"])
@pytest.mark.parametrize("secret", [None, "x-client-secret-value"])
def test_expired_token_is_refreshed_once_and_the_rotated_refresh_token_kept(
    harness: Harness, emulator: XEmulator, monkeypatch: pytest.MonkeyPatch, where: str, secret: str | None
) -> None:
    config = channel(emulator)
    if secret is not None:  # a confidential client authenticates with Basic, not client_id in the body
        emulator.client_secret = secret
        monkeypatch.setenv("TEST_X_CLIENT_SECRET", secret)
        config = config.model_copy(
            update={"credentials": config.credentials | {"client_secret": "${TEST_X_CLIENT_SECRET}"}}
        )
    emulator.inject(where, Fault.token_expired())
    delivery = harness.publish(XPublisher("x", config, harness.services), _variant(harness))
    assert (delivery.status, emulator.refreshes, len(emulator.tweets)) == ("published", 1, 1)
    [refresh] = emulator.calls("token")
    assert refresh.form["grant_type"] == "refresh_token" and refresh.form["refresh_token"] == REFRESH
    assert ("client_id" in refresh.form) == (secret is None)
    stored = harness.store.token("x:x")
    assert (
        stored is not None
        and stored.extra["refresh"] in emulator.refresh_tokens
        and REFRESH not in emulator.refresh_tokens
    )


def test_the_refreshed_pair_serves_the_next_delivery_without_another_refresh(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    emulator.inject("create_tweet", Fault.token_expired())
    harness.publish(publisher, _variant(harness, lang="zh"))
    harness.clock.advance(60)
    second = harness.publish(publisher, _variant(harness, lang="en"))
    assert (second.status, emulator.refreshes, len(emulator.tweets)) == ("published", 1, 2)


def test_refused_refresh_pauses_the_channel(harness: Harness, emulator: XEmulator, publisher: XPublisher) -> None:
    emulator.refresh_tokens.clear()  # revoked: the user disconnected the app
    emulator.expire_tokens()
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and emulator.tweets == []
    assert "refused the refresh token" in (delivery.error or "") and REFRESH not in (delivery.error or "")


def test_refresh_without_a_client_id_pauses_without_asking(harness: Harness, emulator: XEmulator) -> None:
    config = channel(emulator).model_copy(update={"options": {}})
    emulator.expire_tokens()
    publisher = XPublisher("x", config, harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and "options.client_id" in (delivery.error or "")
    assert emulator.calls("token") == []


def test_new_credentials_replace_a_stored_pair(
    harness: Harness, emulator: XEmulator, publisher: XPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.inject("create_tweet", Fault.token_expired())
    harness.publish(publisher, _variant(harness, lang="zh"))  # the store now holds a refreshed pair
    emulator.expire_tokens()
    emulator.refresh_tokens.clear()
    with emulator.lock:  # someone authorized the app again and set the new pair in the environment
        emulator.access["x-access-reauthorized"] = harness.clock.now() + dt.timedelta(hours=2)
    monkeypatch.setenv("TEST_X_ACCESS_TOKEN", "x-access-reauthorized")
    monkeypatch.setenv("TEST_X_REFRESH_TOKEN", "x-refresh-reauthorized")
    harness.clock.advance(60)
    delivery = harness.publish(publisher, _variant(harness, lang="en"))
    assert delivery.status == "published" and emulator.calls("create_tweet")[-1].headers["Authorization"].endswith(
        "x-access-reauthorized"
    )


def test_text_over_280_as_twitter_text_weighs_it_is_rejected(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    variant = _variant(harness, LONG_ZH)
    assert len(variant.text) <= 280 and publisher.check(variant) == ["282 weighted characters; the limit is 280"]
    delivery = harness.publish(publisher, variant)
    assert harness.outcome(publisher, delivery) == "rejected" and TOO_LONG in (delivery.error or "")
    assert emulator.tweets == [] and len(emulator.calls("create_tweet")) == 1


def test_forbidden_client_pauses_the_channel(harness: Harness, emulator: XEmulator, publisher: XPublisher) -> None:
    emulator.forbidden = True
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and "lacks access" in (delivery.error or "")


@pytest.mark.parametrize("shape", ["problem", "code88", "usage_capped"])
def test_every_429_shape_waits_for_the_reset(
    harness: Harness, emulator: XEmulator, publisher: XPublisher, shape: str
) -> None:
    emulator.rate_limit_shape = shape
    emulator.inject("create_tweet", Fault.rate_limited(3))
    delivery = harness.publish(publisher, _variant(harness))
    assert (delivery.status, len(emulator.tweets)) == ("published", 1)
    assert harness.waits[0] >= dt.timedelta(seconds=2)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_the_tweet_reads_back_then_posts_again(
    harness: Harness, emulator: XEmulator, publisher: XPublisher, status: int
) -> None:
    emulator.inject("create_tweet", Fault.server_error(status))
    delivery = harness.publish(publisher, _variant(harness))
    assert (delivery.status, len(emulator.tweets), len(emulator.calls("create_tweet"))) == ("published", 1, 2)
    assert len(emulator.calls("user_tweets")) == 2  # after the 5xx, and again before posting again


def test_media_id_x_would_forget_is_uploaded_again(harness: Harness, emulator: XEmulator) -> None:
    clock = FakeClock(dt.datetime.now(dt.UTC))
    emulator.clock = clock
    publisher = XPublisher("x", channel(emulator), dataclasses.replace(harness.services, clock=clock))
    emulator.inject("create_tweet", Fault.rate_limited(2))
    with pytest.raises(TemporaryError):
        publisher.publish(_delivery(_variant(harness)), progress := Progress())
    first = progress.get("x_media_0")
    clock.advance(23.5 * 3600)  # the retry comes late: X keeps media ids for 24 h
    publisher.publish(_delivery(_variant(harness)), progress)
    [tweet] = emulator.tweets
    assert len(emulator.media) == 2 and tweet.media_ids == [progress.get("x_media_0")] != [first]


def test_invalid_media_id_is_rejected(harness: Harness, emulator: XEmulator, publisher: XPublisher) -> None:
    until = (harness.clock.now() + dt.timedelta(hours=1)).isoformat()
    progress = Progress({"x_media_0": "1234567890", "x_media_0_until": until})
    with pytest.raises(ContentRejected, match="Your media IDs are invalid"):
        publisher.publish(_delivery(_variant(harness)), progress)
    assert emulator.tweets == [] and progress.get("x_post") == "refused"


def test_duplicate_content_is_reconciled_to_the_earlier_tweet(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    variant = _variant(harness)
    first = harness.publish(publisher, variant)
    harness.clock.advance(60)
    again = harness.publish(publisher, variant)  # a second delivery of the very same text
    assert len(emulator.calls("create_tweet")) == 2  # the second answered 403 duplicate
    assert (again.status, again.remote_id, len(emulator.tweets)) == ("published", first.remote_id, 1), again.error


def test_duplicate_of_an_old_tweet_is_left_to_an_editor(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    variant = _variant(harness)
    harness.publish(publisher, variant)
    emulator.tweets[0].created_at -= dt.timedelta(days=1)  # outside the read-back window
    harness.clock.advance(60)
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "unknown" and "duplicate content" in (delivery.error or "")


def test_lost_answer_is_found_although_x_rewrote_links_and_escaped_the_text(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    text = "Shenyang & Liaoning <2026>: see example.com/p?id=1 and https://www.shenyang.gov.cn/ today"
    emulator.inject("create_tweet", Fault.commit_then_timeout())
    delivery = harness.publish(publisher, _variant(harness, text))
    [tweet] = emulator.tweets
    assert "https://t.co/" in tweet.shown and "&amp;" in tweet.shown
    assert (delivery.status, delivery.remote_id, len(emulator.calls("create_tweet"))) == ("published", tweet.id, 1), (
        delivery.error
    )
    query = emulator.calls("user_tweets")[0].args
    assert query["max_results"] == "5" and query["tweet.fields"] == "created_at" and query["start_time"].endswith("Z")


def test_reconcile_without_a_sent_tweet_asks_nothing(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    assert publisher.reconcile(_delivery(_variant(harness)), Progress()) is None
    saved = publisher.reconcile(_delivery(_variant(harness)), Progress({"x_post": "1880028106020515840"}))
    assert saved is not None and saved.remote_id == "1880028106020515840" and emulator.requests == []


def test_reconcile_does_not_match_another_text(harness: Harness, emulator: XEmulator, publisher: XPublisher) -> None:
    harness.publish(publisher, _variant(harness, "Another post entirely"))
    progress = Progress({"x_post": "sending", "x_first_post_at": dt.datetime.now(dt.UTC).isoformat()})
    assert publisher.reconcile(_delivery(_variant(harness)), progress) is None


def test_unreadable_timeline_after_a_lost_answer_is_checked_again_never_posted_twice(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    emulator.inject("create_tweet", Fault.commit_then_timeout())
    emulator.inject("user_tweets", *[Fault.server_error(503)] * 2)  # publish's read-back, then reconcile's
    delivery = harness.publish(publisher, _variant(harness))
    assert delivery.status == "published" and len(emulator.calls("create_tweet")) == 1  # found on the next try
    assert len(emulator.tweets) == 1 and len(emulator.calls("user_tweets")) == 3


def test_failed_read_back_blocks_a_second_post_until_a_check_succeeds(
    harness: Harness, emulator: XEmulator, publisher: XPublisher
) -> None:
    emulator.inject("create_tweet", Fault.server_error(503))
    emulator.inject("users_me", Fault.server_error(503))  # the read-back right after the 5xx fails too
    with pytest.raises(OutcomeUnknown, match="could not check"):
        publisher.publish(_delivery(_variant(harness)), progress := Progress())
    assert progress.get("x_post") == "sending" and emulator.tweets == []
    receipt = publisher.publish(_delivery(_variant(harness)), progress)  # reads back first, then posts
    assert len(emulator.tweets) == 1 and receipt.remote_id == emulator.tweets[0].id


def test_verify_reports_the_account_limits_and_quota(emulator: XEmulator, publisher: XPublisher) -> None:
    emulator.expire_tokens()
    report = publisher.verify()
    assert report.ok and report.detail == "authorized as @shortline_test" and emulator.refreshes == 1
    assert report.limits == {"max_chars": 280, "max_images": 4, "max_image_bytes": 5_000_000}
    assert report.quota == "74 of 75 users/me requests left in this 15-minute window"
    assert emulator.tweets == [] and emulator.media == {}


def test_verify_fails_on_refused_credentials(emulator: XEmulator, publisher: XPublisher) -> None:
    emulator.expire_tokens()
    emulator.refresh_tokens.clear()
    report = publisher.verify()
    assert not report.ok and "refused the refresh token" in report.detail and ACCESS not in report.detail


def test_rate_limit_wait_is_the_latest_exhausted_window() -> None:
    now = time.time()
    headers = {
        "x-rate-limit-remaining": "12",
        "x-rate-limit-reset": str(int(now + 60)),
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(now + 3600)),
    }
    wait = _rate_wait(headers)
    assert wait is not None and 3598 <= wait <= 3600
