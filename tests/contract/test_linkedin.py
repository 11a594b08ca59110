"""LinkedIn beyond the shared faults: headers, images, commentary escaping, refresh, its error table, read-back."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import requests

from pipeline.compose import channels
from pipeline.config import ChannelConfig
from pipeline.errors import TemporaryError
from pipeline.model import Block, Variant
from pipeline.publish.base import Progress
from pipeline.publish.linkedin import DEFAULT_VERSION, LinkedInPublisher
from pipeline.records import Delivery, DeliveryStatus
from pipeline.testing import FakeClock
from tests.contract.apis.linkedin import ACCESS, channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.linkedin import AUTHOR, LinkedInEmulator, cut

REFRESH, CLIENT_ID, CLIENT_SECRET = "AQX-linkedin-refresh-0123456789", "86shortline", "client-secret-value"
Setup = Callable[[LinkedInEmulator, ChannelConfig], object]
RESERVED_TEXT = "新品上市 (限时) #沈阳 a_b @x [1] <b> ~ * | {} \\ 完"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[LinkedInEmulator]:
    monkeypatch.setenv("TEST_LINKEDIN_TOKEN", ACCESS)
    monkeypatch.setenv("TEST_LINKEDIN_REFRESH", REFRESH)
    monkeypatch.setenv("TEST_LINKEDIN_SECRET", CLIENT_SECRET)
    with LinkedInEmulator(ACCESS, refresh_token=REFRESH, client=(CLIENT_ID, CLIENT_SECRET)) as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: LinkedInEmulator) -> LinkedInPublisher:
    return LinkedInPublisher("linkedin", channel(emulator), harness.services)


def refreshing(emulator: LinkedInEmulator) -> ChannelConfig:
    """A channel whose app LinkedIn enabled for programmatic refresh."""
    credentials = {
        "access_token": "${TEST_LINKEDIN_TOKEN}",
        "refresh_token": "${TEST_LINKEDIN_REFRESH}",
        "client_secret": "${TEST_LINKEDIN_SECRET}",
    }
    options = {"author": AUTHOR, "client_id": CLIENT_ID, "token_url": f"{emulator.base_url}/oauth/v2/accessToken"}
    return ChannelConfig(type="linkedin", base_url=emulator.base_url, credentials=credentials, options=options)


def _variant(harness: Harness, lang: str = "zh", cards: int = 1) -> Variant:
    variant = harness.example.variant("linkedin", lang)
    return dataclasses.replace(variant, cards=variant.cards[:1] * cards)


def _delivery(variant: Variant) -> Delivery:
    return Delivery(1, 1, DeliveryStatus.PUBLISHING, 1, dt.datetime.now(dt.UTC), variant)


def test_uploads_the_card_then_posts_the_commentary_with_every_header(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    variant = _variant(harness)
    delivery = harness.publish(publisher, variant)
    [init], [put], [post] = (emulator.calls(name) for name in ("initialize_upload", "upload", "create_post"))
    card = variant.cards[0]
    assert init.args == {"action": "initializeUpload"} and init.json() == {"initializeUploadRequest": {"owner": AUTHOR}}
    assert put.body == (harness.example.root / card.path).read_bytes()
    [image] = emulator.images.values()
    assert len(emulator.calls("image")) == 2  # PROCESSING once, then AVAILABLE
    assert post.json() == {
        "author": AUTHOR,
        "commentary": variant.extra["commentary"],
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "content": {"media": {"id": image.urn, "altText": card.alt}},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert emulator.requests.index(put) < emulator.requests.index(post)
    for call in (init, *emulator.calls("image"), post):
        assert (
            call.headers["Linkedin-Version"] == DEFAULT_VERSION and call.headers["X-Restli-Protocol-Version"] == "2.0.0"
        )
        assert call.headers["Authorization"] == f"Bearer {ACCESS}"
    [stored] = emulator.posts
    assert (delivery.remote_id, delivery.url) == (stored.urn, f"https://www.linkedin.com/feed/update/{stored.urn}")
    assert stored.commentary == variant.extra["commentary"] and delivery.progress["li_image_0"] == image.urn


def test_several_cards_make_a_multi_image_post(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    variant = _variant(harness, "en", cards=3)
    assert harness.publish(publisher, variant).status == "published"
    images = emulator.calls("create_post")[0].json()["content"]["multiImage"]["images"]
    assert [image["id"] for image in images] == list(emulator.images)
    assert {image["altText"] for image in images} == {variant.cards[0].alt}


def test_composed_commentary_escapes_reserved_characters_so_nothing_is_cut(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    target = channels.Target("linkedin", ChannelConfig(type="linkedin"), "zh", True, "test")
    composed = channels.variant(target, (Block("paragraph", (RESERVED_TEXT,)),))
    variant = dataclasses.replace(composed, cards=_variant(harness).cards)
    assert harness.publish(publisher, variant).status == "published"
    [post] = emulator.posts
    assert (
        post.sent
        == post.commentary
        == "新品上市 \\(限时\\) #沈阳 a\\_b \\@x \\[1\\] \\<b\\> \\~ \\* \\| \\{\\} \\\\ 完"
    )
    assert cut(RESERVED_TEXT) == "新品上市 "  # what LinkedIn would have kept of the text unescaped


def test_unescaped_commentary_is_cut_by_linkedin_yet_answered_201(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    variant = dataclasses.replace(_variant(harness), extra={"commentary": "Sale (today only) ends"})
    assert harness.publish(publisher, variant).status == "published"
    assert emulator.posts[0].commentary == "Sale "


def test_expired_token_is_refreshed_once_when_the_app_may(harness: Harness, emulator: LinkedInEmulator) -> None:
    emulator.inject("create_post", Fault.token_expired())
    publisher = LinkedInPublisher("linkedin", refreshing(emulator), harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert (delivery.status, emulator.refreshes, len(emulator.posts)) == ("published", 1, 1)
    [refresh] = emulator.calls("access_token")
    assert refresh.form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert emulator.calls("create_post")[-1].headers["Authorization"] != f"Bearer {ACCESS}"


def test_expired_token_without_a_refresh_token_pauses_without_asking(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    emulator.expire_tokens()
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and "INVALID_ACCESS_TOKEN" in (delivery.error or "")
    assert emulator.calls("access_token") == [] and emulator.posts == []


def test_refused_refresh_pauses_the_channel(harness: Harness, emulator: LinkedInEmulator) -> None:
    emulator.refresh_tokens.clear()
    emulator.expire_tokens()
    publisher = LinkedInPublisher("linkedin", refreshing(emulator), harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and "refused the refresh token" in (delivery.error or "")
    assert CLIENT_SECRET not in (delivery.error or "") and REFRESH not in (delivery.error or "")


def _deny(emulator: LinkedInEmulator, config: ChannelConfig) -> None:
    emulator.authors.clear()  # the token's member lost the page role


def _retire(emulator: LinkedInEmulator, config: ChannelConfig) -> None:
    config.options["version"] = "202401"


def _fail(status: int) -> Setup:
    return lambda emulator, config: emulator.inject("create_post", Fault.server_error(status))


@pytest.mark.parametrize(
    ("setup", "outcome", "said"),
    [
        (_deny, "paused", "ACCESS_DENIED"),
        (_retire, "paused", "NONEXISTENT_VERSION"),
        (_fail(500), "published", ""),
        (_fail(504), "published", ""),
    ],
    ids=["403-access-denied", "426-retired-version", "500", "504"],
)
def test_error_table(harness: Harness, emulator: LinkedInEmulator, setup: Setup, outcome: str, said: str) -> None:
    config = channel(emulator)
    setup(emulator, config)
    publisher = LinkedInPublisher("linkedin", config, harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == outcome and said in (delivery.error or "")
    assert len(emulator.posts) == (outcome == "published")


@pytest.mark.parametrize(
    ("commentary", "alt", "said"),
    [("沈" * 3001, None, "commentary is 3001 characters"), (None, "x" * 5000, "altText is too long")],
    ids=["commentary-over-3000", "alt-text-too-long"],
)
def test_content_linkedin_refuses_fails_the_delivery(
    harness: Harness,
    emulator: LinkedInEmulator,
    publisher: LinkedInPublisher,
    commentary: str | None,
    alt: str | None,
    said: str,
) -> None:
    variant = _variant(harness)
    if commentary is not None:
        variant = dataclasses.replace(variant, extra={"commentary": commentary})
        assert publisher.check(variant) == ["3001 characters (escaped); the limit is 3000"]
    if alt is not None:
        variant = dataclasses.replace(variant, cards=(dataclasses.replace(variant.cards[0], alt=alt),))
    delivery = harness.publish(publisher, variant)
    assert harness.outcome(publisher, delivery) == "rejected" and said in (delivery.error or "")
    assert emulator.posts == [] and len(emulator.calls("create_post")) == 1


def test_throttle_without_retry_after_waits_until_utc_midnight(harness: Harness, emulator: LinkedInEmulator) -> None:
    clock = FakeClock(dt.datetime(2026, 11, 30, 21, 30, tzinfo=dt.UTC))
    emulator.send_retry_after = False
    emulator.inject("create_post", Fault.rate_limited(2))
    publisher = LinkedInPublisher("linkedin", channel(emulator), dataclasses.replace(harness.services, clock=clock))
    with pytest.raises(TemporaryError, match="TOO_MANY_REQUESTS") as caught:
        publisher.publish(_delivery(_variant(harness)), progress := Progress())
    midnight = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # the image status poll slept on this clock too
    assert caught.value.retry_after == (midnight - clock.now()).total_seconds() and progress.get("li_post") == "refused"


def test_duplicate_answer_names_the_post_that_is_already_up(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    first = harness.publish(publisher, _variant(harness))
    harness.clock.advance(60)
    again = harness.publish(publisher, _variant(harness))  # the same commentary once more
    assert (again.status, again.remote_id, len(emulator.posts)) == ("published", first.remote_id, 1)
    assert len(emulator.calls("create_post")) == 2 and emulator.calls("find_posts") == []


def test_lost_answer_is_found_in_the_authors_posts(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    emulator.inject("create_post", Fault.commit_then_timeout())
    delivery = harness.publish(publisher, _variant(harness))
    [post] = emulator.posts
    assert (delivery.status, delivery.remote_id, len(emulator.calls("create_post"))) == ("published", post.urn, 1)
    [find] = emulator.calls("find_posts")
    assert find.args == {"author": AUTHOR, "q": "author", "count": "10", "sortBy": "LAST_MODIFIED"}


def test_reconcile_matches_the_commentary_escaped_or_not_and_nothing_else(
    harness: Harness, emulator: LinkedInEmulator, publisher: LinkedInPublisher
) -> None:
    variant = dataclasses.replace(_variant(harness), extra={"commentary": "Sale \\(today\\)"})
    assert publisher.reconcile(_delivery(variant), Progress()) is None and emulator.requests == []  # never sent
    harness.publish(publisher, dataclasses.replace(variant, extra={"commentary": "Another post"}))
    sending = Progress({"li_post": "sending"})
    assert publisher.reconcile(_delivery(variant), sending) is None
    emulator.posts[0].commentary = "Sale (today)"  # LinkedIn may answer the text unescaped
    found = publisher.reconcile(_delivery(variant), sending)
    assert found is not None and found.remote_id == emulator.posts[0].urn


def test_verify_reads_with_the_token_and_version(emulator: LinkedInEmulator, publisher: LinkedInPublisher) -> None:
    report = publisher.verify()
    assert report.ok and DEFAULT_VERSION in report.detail and report.limits == {"max_chars": 3000, "max_images": 20}
    [find] = emulator.calls("find_posts")
    assert find.args["count"] == "1" and emulator.posts == [] and emulator.images == {}


@pytest.mark.parametrize(
    ("break_it", "said"),
    [
        (lambda e, c: e.expire_tokens(), "INVALID_ACCESS_TOKEN"),
        (lambda e, c: c.options.update(version="202301"), "not active"),
    ],
    ids=["token", "version"],
)
def test_verify_reports_refusals(harness: Harness, emulator: LinkedInEmulator, break_it: Setup, said: str) -> None:
    config = channel(emulator)
    break_it(emulator, config)
    report = LinkedInPublisher("linkedin", config, harness.services).verify()
    assert not report.ok and said in report.detail and ACCESS not in report.detail


@pytest.mark.parametrize(
    ("headers", "path", "status", "code"),
    [
        (
            {"X-Restli-Protocol-Version": "2.0.0"},
            "/rest/posts?q=author&author=urn%3Ali%3Aorganization%3A5515715",
            426,
            "VERSION_MISSING",
        ),
        (
            {"LinkedIn-Version": DEFAULT_VERSION},
            "/rest/posts?q=author&author=urn%3Ali%3Aorganization%3A5515715",
            400,
            "",
        ),
        (
            {"LinkedIn-Version": DEFAULT_VERSION, "X-Restli-Protocol-Version": "2.0.0"},
            f"/rest/posts?q=author&author={AUTHOR}",
            400,
            "",
        ),
        (
            {"LinkedIn-Version": "202401", "X-Restli-Protocol-Version": "2.0.0"},
            "/rest/posts?q=author&author=urn%3Ali%3Aorganization%3A5515715",
            426,
            "NONEXISTENT_VERSION",
        ),
    ],
    ids=["no-version", "no-restli", "unencoded-urn", "retired-version"],
)
def test_emulator_refuses_requests_without_linkedins_headers(
    emulator: LinkedInEmulator, headers: dict[str, str], path: str, status: int, code: str
) -> None:
    response = requests.get(
        emulator.base_url + path, headers={"Authorization": f"Bearer {ACCESS}"} | headers, timeout=5
    )
    assert response.status_code == status and response.json().get("code", "") == code
