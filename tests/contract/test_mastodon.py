"""Mastodon beyond the shared faults: payloads, media processing, the error table, the key window, verify()."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import requests

from pipeline.errors import OutcomeUnknown, TemporaryError
from pipeline.model import Variant
from pipeline.publish.base import Progress
from pipeline.publish.mastodon import MastodonPublisher, plain_text
from pipeline.records import Delivery, DeliveryStatus
from tests.contract.apis.mastodon import TOKEN, channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.mastodon import SCOPES, MastodonEmulator, length, render

URL = "https://www.shenyang.gov.cn/" + "a" * 100  # 128 characters that Mastodon counts as 23


@pytest.fixture
def emulator(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[MastodonEmulator]:
    monkeypatch.setenv("TEST_MASTODON_TOKEN", TOKEN)
    with MastodonEmulator(TOKEN, clock=harness.clock) as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: MastodonEmulator) -> MastodonPublisher:
    """Polls sleep on, and key windows are measured by, the harness's fake clock."""
    services = dataclasses.replace(harness.services, clock=harness.clock)
    return MastodonPublisher("mastodon", channel(emulator), services)


def _variant(harness: Harness, text: str | None = None, lang: str = "zh") -> Variant:
    variant = harness.example.variant("mastodon", lang)
    return variant if text is None else dataclasses.replace(variant, text=text)


def _delivery(variant: Variant) -> Delivery:
    return Delivery(1, 1, DeliveryStatus.PUBLISHING, 1, dt.datetime.now(dt.UTC), variant)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_uploads_the_card_with_alt_text_then_posts_once_with_a_key(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher, lang: str
) -> None:
    variant = _variant(harness, lang=lang)
    delivery = harness.publish(publisher, variant)
    [upload], [post] = emulator.calls("upload_media"), emulator.calls("create_status")
    card = variant.cards[0]
    assert upload.files["file"][1:] == ("image/png", len((harness.example.root / card.path).read_bytes()))
    assert upload.form == {"description": card.alt}
    [media] = emulator.media.values()
    assert post.json() == {"status": variant.text, "media_ids": [media.id], "visibility": "public", "language": lang}
    assert post.headers["Idempotency-Key"] == delivery.progress["idempotency_key"]
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert emulator.requests.index(upload) < emulator.requests.index(post)
    [status] = emulator.statuses
    assert (delivery.remote_id, delivery.url) == (status.id, f"{emulator.base_url}/@shenyang/{status.id}")
    assert status.media == [media] and delivery.progress["media_0"] == media.id


def test_asynchronous_media_processing_is_polled_on_the_services_clock(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.processing_polls = 3
    before = harness.clock.now()
    delivery = publisher.publish(_delivery(_variant(harness)), Progress())
    assert [r.endpoint for r in emulator.requests] == ["upload_media"] + ["get_media"] * 4 + ["create_status"]
    assert harness.clock.now() - before == dt.timedelta(seconds=3)  # three 206 answers, a second apart
    assert delivery.remote_id == emulator.statuses[0].id


def test_a_saved_media_id_still_processing_is_awaited_and_the_status_sent_again_with_the_same_key(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.processing_polls = 2
    png = (harness.example.root / harness.example.variant("mastodon").cards[0].path).read_bytes()
    upload = requests.post(
        f"{emulator.base_url}/api/v2/media",
        headers={"Authorization": f"Bearer {TOKEN}"},
        files={"file": ("c.png", png, "image/png")},
    )
    assert upload.status_code == 202 and upload.json()["url"] is None
    receipt = publisher.publish(_delivery(_variant(harness)), Progress({"media_0": upload.json()["id"]}))
    first, second = emulator.calls("create_status")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert len(emulator.calls("get_media")) == 3 and receipt.remote_id == emulator.statuses[0].id


def test_media_that_never_finish_processing_are_a_temporary_error(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.processing_polls = 100
    progress = Progress()
    with pytest.raises(TemporaryError, match="still processing"):
        publisher.publish(_delivery(_variant(harness)), progress)
    assert emulator.statuses == [] and "media_0" in progress.values  # the next attempt resumes, no new upload


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("沈" * 500, "published"),
        ("沈" * 501, "rejected"),
        ("沈" * 470 + " " + URL, "published"),  # 599 code points, 494 as Mastodon counts
        ("沈" * 477 + " " + URL, "rejected"),  # 501 as Mastodon counts
        ("沈" * 480 + " @brand@mastodon.social", "published"),  # a remote mention counts as @brand
        ("👩🏽‍💻" * 500, "published"),  # one grapheme each, 7 code points each
    ],
    ids=["500-han", "501-han", "url-counts-23", "url-over", "remote-mention", "emoji-graphemes"],
)
def test_text_is_refused_past_500_as_mastodon_counts(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher, text: str, outcome: str
) -> None:
    delivery = harness.publish(publisher, _variant(harness, text))
    assert harness.outcome(publisher, delivery) == outcome
    if outcome == "rejected":
        assert "Text character limit of 500 exceeded" in (delivery.error or "") and emulator.statuses == []
    assert bool(publisher.check(_variant(harness, text))) == (outcome == "rejected")  # compose's count agrees


def _unknown_token(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "not-the-token-4b7e")


def _read_only(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.tokens[TOKEN] = frozenset({"read"})


def _png_refused(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.mime_types = ["image/jpeg"]


def _alt_too_long(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.description_limit = 10


def _upload_down(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.inject("upload_media", Fault.server_error(500), Fault.server_error(503))


def _status_500(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.inject("create_status", Fault.server_error(500))


def _rate_limited_epoch(emulator: MastodonEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.reset_format = "epoch"
    emulator.inject("create_status", Fault.rate_limited(3))


Setup = Callable[[MastodonEmulator, pytest.MonkeyPatch], None]


@pytest.mark.parametrize(
    ("setup", "outcome", "says"),
    [
        (_unknown_token, "paused", "The access token is invalid"),
        (_read_only, "paused", "outside the authorized scopes"),
        (_png_refused, "rejected", "File content type is invalid"),
        (_alt_too_long, "rejected", "Description is too long"),
        (_upload_down, "published", None),
        (_status_500, "published", None),
        (_rate_limited_epoch, "published", None),
    ],
    ids=["401", "403-scope", "422-media-type", "422-description", "5xx-upload", "500-status", "429-epoch-reset"],
)
def test_error_table(
    harness: Harness,
    emulator: MastodonEmulator,
    publisher: MastodonPublisher,
    monkeypatch: pytest.MonkeyPatch,
    setup: Setup,
    outcome: str,
    says: str | None,
) -> None:
    setup(emulator, monkeypatch)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == outcome
    assert len(emulator.statuses) == (outcome == "published")
    if says is not None:
        assert says in (delivery.error or "") and "not-the-token-4b7e" not in (delivery.error or "")
    if setup is _rate_limited_epoch:
        assert harness.waits[0] >= dt.timedelta(seconds=2)
    if setup is _status_500:
        keys = {r.headers["Idempotency-Key"] for r in emulator.calls("create_status")}
        assert len(emulator.calls("create_status")) == 2 and len(keys) == 1


def test_a_lost_reply_is_retried_with_the_same_key_and_gets_the_original_status(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.inject("create_status", Fault.commit_then_timeout(1.0))
    delivery = harness.publish(publisher, _variant(harness))
    first, second = emulator.calls("create_status")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    [status] = emulator.statuses
    assert delivery.remote_id == status.id and len(emulator.calls("upload_media")) == 1


def test_a_revoked_token_pauses_and_after_resuming_the_saved_media_are_reused(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.inject("create_status", Fault.token_expired())
    paused = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, paused) == "paused" and emulator.statuses == []
    emulator.tokens["new-token-after-revocation"] = SCOPES
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "new-token-after-revocation")
    harness.store.resume("mastodon")
    harness.worker(publisher).run_pass()
    delivery = harness.store.post(paused.post_id).deliveries[0]
    assert delivery.status == "published" and len(emulator.statuses) == 1
    assert len(emulator.calls("upload_media")) == 1  # the media id saved before the pause was used


def test_a_retry_after_the_key_window_finds_the_status_that_went_out(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.inject("create_status", Fault.commit_then_timeout(1.0))
    delivery, progress = _delivery(_variant(harness)), Progress()
    with pytest.raises(OutcomeUnknown):
        publisher.publish(delivery, progress)
    harness.clock.advance(2 * 3600)  # the server has forgotten the key: a repeat would post again
    receipt = publisher.publish(delivery, progress)
    [status] = emulator.statuses
    assert receipt.remote_id == status.id and len(emulator.calls("create_status")) == 1
    [listing] = emulator.calls("account_statuses")
    assert listing.path.endswith(f"/accounts/{emulator.account['id']}/statuses")
    assert listing.args == {"limit": "20", "exclude_replies": "true"}


def test_a_retry_after_the_key_window_posts_when_nothing_went_out(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.inject("create_status", Fault.server_error(503))
    delivery, progress = _delivery(_variant(harness)), Progress()
    with pytest.raises(OutcomeUnknown):
        publisher.publish(delivery, progress)
    harness.clock.advance(2 * 3600)
    receipt = publisher.publish(delivery, progress)
    [status] = emulator.statuses
    assert receipt.remote_id == status.id and len(emulator.calls("account_statuses")) == 1


def test_reconcile_matches_the_text_after_the_first_attempt_only(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    variant = _variant(harness, "A & B <c>\n\n" + URL + " here\nnext line")
    assert publisher.reconcile(_delivery(variant), Progress()) is None and emulator.requests == []
    earlier = publisher.publish(_delivery(variant), Progress())  # the same text, posted before
    harness.clock.advance(3600)
    later = Progress({"first_post_attempt": harness.clock.now().isoformat()})
    assert publisher.reconcile(_delivery(variant), later) is None
    before = Progress({"first_post_attempt": (harness.clock.now() - dt.timedelta(hours=1)).isoformat()})
    assert publisher.reconcile(_delivery(variant), before) == earlier


@pytest.mark.parametrize(
    "text",
    [
        "A & B <c>\n\n" + URL + " here\nnext line",
        "沈阳位列东北地区第一！\n\n来源：沈阳发布 2023-02-16",
        "'quoted' \"twice\"",
    ],
)
def test_status_html_reads_back_as_the_posted_text(text: str) -> None:
    assert plain_text(render(text)) == text


def test_the_emulator_counts_independently_of_compose() -> None:
    assert length("沈" * 10 + " " + URL) == 34 and length("@brand@mastodon.social hi") == 9
    assert length("x", spoiler="spoiler") == 8 and length("👩🏽‍💻🇨🇳") == 2


def test_verify_reads_the_instance_limits_and_the_quota(
    emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    emulator.max_characters, emulator.image_size_limit = 1000, 10_485_760
    report = publisher.verify()
    assert report.ok and "@shenyang" in report.detail
    assert report.limits == {
        "max_characters": 1000,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
        "image_size_limit": 10_485_760,
    }
    assert report.quota is not None and report.quota.startswith("298 of 300 requests left until ")
    assert emulator.statuses == [] and emulator.media == {}


def test_verify_with_a_refused_token_says_so_without_the_token(
    emulator: MastodonEmulator, publisher: MastodonPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "refused-token-1234")
    report = publisher.verify()
    assert not report.ok and "401" in report.detail and "refused-token-1234" not in report.detail


def test_more_than_four_images_are_refused(
    harness: Harness, emulator: MastodonEmulator, publisher: MastodonPublisher
) -> None:
    variant = _variant(harness)
    five = dataclasses.replace(variant, cards=variant.cards * 5)
    assert publisher.check(five) == ["5 images; the limit is 4"]
    delivery = harness.publish(publisher, five)
    assert delivery.status == "failed" and "Cannot attach more than 4 files" in (delivery.error or "")
    assert emulator.statuses == []
