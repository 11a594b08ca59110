"""Weibo beyond the shared faults: the share payload, counting, the error-code table, dup-inferred, verify()."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import time
from collections.abc import Iterator

import pytest

from pipeline.config import ChannelConfig
from pipeline.model import Variant
from pipeline.publish.weibo import DUP_INFERRED, HOUR, WeiboPublisher
from pipeline.records import Delivery, DeliveryStatus
from tests.contract.apis.weibo import LINK, channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.weibo import TOKEN, UID, WeiboEmulator, units


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[WeiboEmulator]:
    monkeypatch.setenv("TEST_WEIBO_TOKEN", TOKEN)
    with WeiboEmulator() as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: WeiboEmulator) -> WeiboPublisher:
    return WeiboPublisher("weibo", channel(emulator), harness.services)


def _variant(harness: Harness, text: str | None = None, lang: str = "zh", cards: bool = True) -> Variant:
    variant = harness.example.variant("weibo", lang)
    return dataclasses.replace(variant, text=variant.text if text is None else text, cards=variant.cards[:cards])


def _retry_by_editor(harness: Harness, publisher: WeiboPublisher, delivery: Delivery) -> Delivery:
    """What an editor's "try again" does to an unknown delivery: schedule it now, progress kept."""
    harness.store.finish(delivery, DeliveryStatus.SCHEDULED, harness.clock.now(), retry_at=harness.clock.now())
    harness.worker(publisher).run_pass()
    return harness.store.post(delivery.post_id).deliveries[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_shares_the_status_with_its_link_and_first_card_as_pic(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher, lang: str
) -> None:
    variant = _variant(harness, lang=lang)
    delivery = harness.publish(publisher, variant)
    [share] = emulator.calls("share")
    card = variant.cards[0]
    assert share.form == {"access_token": TOKEN, "status": variant.text} and share.args == {}
    assert LINK in share.form["status"] and share.headers["Content-Type"].startswith("multipart/form-data")
    assert share.files == {"pic": (card.path.name, "image/png", (harness.example.root / card.path).stat().st_size)}
    [post] = emulator.posts
    assert post["pic"][0] == "png" and publisher.check(variant) == []
    assert (delivery.remote_id, delivery.url) == (post["idstr"], f"https://m.weibo.cn/status/{post['idstr']}")
    assert delivery.progress["sent_at"]


def test_a_status_without_a_card_is_form_encoded_and_rip_only_when_configured(
    harness: Harness, emulator: WeiboEmulator
) -> None:
    config = channel(emulator).model_copy(update={"options": {"rip": "203.0.113.7"}})
    publisher = WeiboPublisher("weibo", config, harness.services)
    assert harness.publish(publisher, _variant(harness, cards=False)).status == "published"
    [share] = emulator.calls("share")
    assert share.headers["Content-Type"] == "application/x-www-form-urlencoded" and share.files == {}
    assert share.form["rip"] == "203.0.113.7" and emulator.posts[0]["pic"] is None


def test_half_width_characters_count_half(harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher) -> None:
    text = "Shenyang " * 26 + LINK  # 262 characters, 131 units
    assert (len(text), units(text)) == (262, 131) and publisher.check(_variant(harness, text)) == []
    assert harness.publish(publisher, _variant(harness, text)).status == "published"


@pytest.mark.parametrize(
    ("text", "problem", "error_code"),
    [
        ("沈阳" * 66 + "\n\n" + LINK, "147 汉字 units; the limit is 140", 20012),
        ("沈阳位列东北地区第一！", "must contain the channel's link", 10017),
        ("#沈阳# 位列东北地区第一！ " + LINK, "#topic# words", 10017),
    ],
    ids=["over-140-units", "no-safe-domain-link", "topic"],
)
def test_content_weibo_refuses_fails_the_delivery(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher, text: str, problem: str, error_code: int
) -> None:
    variant = _variant(harness, text)
    assert any(problem in found for found in publisher.check(variant))
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "failed" and f"error_code {error_code}" in (delivery.error or "")
    assert emulator.posts == []


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        *[(code, 401, "paused") for code in (21327, 21332, 21314, 21315, 21316, 21317, 10014, 21321)],
        *[(code, 403, "published") for code in (10022, 10023, 10024, 20016)],
        *[(code, 400, "rejected") for code in (20012, 20018, 20020, 20021, 20005, 20006, 20007, 10017)],
        (20017, 400, "rejected"),  # a duplicate with no attempt of ours before: someone else's post
        (20019, 400, "rejected"),
        *[(code, 500, "unknown") for code in (10001, 10002, 10003, 10009)],
        (10001, 400, "unknown"),  # a system error on share is ambiguous whatever the HTTP status
    ],
)
def test_error_code_table(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher, code: int, status: int, outcome: str
) -> None:
    emulator.refuse_next(code, status)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == outcome, delivery.error
    assert len(emulator.posts) == (outcome == "published")
    if outcome == "published":  # 20016: the hour window; the hit counters: until rate_limit_status's reset
        wait, reset = harness.waits[0].total_seconds(), 3600 - int(time.time()) % 3600
        assert wait >= HOUR if code == 20016 else abs(wait - reset) <= 2


def test_rate_limit_waits_until_rate_limit_status_resets(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher
) -> None:
    emulator.inject("share", Fault.rate_limited(120))
    assert harness.publish(publisher, _variant(harness)).status == "published"
    assert 120 <= harness.waits[0].total_seconds() < HOUR
    assert len(emulator.calls("rate_limit_status")) == 1


def test_duplicate_after_our_unanswered_attempt_is_published_dup_inferred(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher
) -> None:
    emulator.inject("share", Fault.commit_then_timeout())
    unknown = harness.publish(publisher, _variant(harness))
    assert unknown.status == "unknown" and "sent_at" in unknown.progress and len(emulator.posts) == 1
    delivery = _retry_by_editor(harness, publisher, unknown)
    assert (delivery.status, delivery.remote_id, delivery.url) == ("published", DUP_INFERRED, None)
    assert len(emulator.posts) == 1 and len(emulator.calls("share")) == 2


def test_duplicate_of_someone_elses_post_is_rejected_even_after_a_refused_attempt(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher
) -> None:
    variant = _variant(harness)
    emulator.posts.append({"idstr": "1", "uid": UID, "text": variant.text, "pic": None, "rip": None})
    emulator.inject("share", Fault.rate_limited(5))  # answered: nothing posted by this attempt
    delivery = harness.publish(publisher, variant)
    assert delivery.status == "failed" and "error_code 20019" in (delivery.error or "")
    assert delivery.progress["sent_at"] == "" and len(emulator.posts) == 1


def test_a_reset_after_sending_is_never_sent_again(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher
) -> None:
    emulator.inject("share", Fault.reset())
    delivery = harness.publish(publisher, _variant(harness))
    assert delivery.status == "unknown" and len(emulator.calls("share")) == 1
    assert delivery.progress["sent_at"] and "connection lost" in (delivery.error or "")


def test_a_share_that_never_left_is_not_taken_for_a_possible_post(harness: Harness, emulator: WeiboEmulator) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    config = channel(emulator).model_copy(update={"base_url": f"http://127.0.0.1:{port}"})  # nothing listens
    publisher = WeiboPublisher("weibo", config, harness.services)
    delivery = harness.publish(publisher, _variant(harness), passes=1)
    assert delivery.status == "scheduled" and delivery.progress["sent_at"] == ""
    assert "could not connect" in (delivery.error or "")


def test_refused_token_pauses_without_leaking_it(
    harness: Harness, emulator: WeiboEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WEIBO_TOKEN", "2.00RevokedWeiboToken9876543210")
    publisher = WeiboPublisher("weibo", channel(emulator), harness.services)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and "21332" in (delivery.error or "")
    assert "2.00RevokedWeiboToken9876543210" not in (delivery.error or "")


def test_verify_reports_the_token_life_and_the_quota(emulator: WeiboEmulator, publisher: WeiboPublisher) -> None:
    report = publisher.verify()
    assert report.ok and UID in report.detail and str(emulator.expire_in) in report.detail
    assert report.limits["status_units"] == 140 and report.quota and "150 user" in report.quota
    assert emulator.posts == [] and [r.endpoint for r in emulator.requests] == ["token_info", "rate_limit_status"]
    emulator.expire_tokens()
    expired = publisher.verify()
    assert not expired.ok and "21327" in expired.detail and TOKEN not in expired.detail


def test_verify_refuses_a_token_past_its_life(emulator: WeiboEmulator, publisher: WeiboPublisher) -> None:
    emulator.expire_in = 0
    assert not publisher.verify().ok


def test_default_base_url_is_the_weibo_api(harness: Harness) -> None:
    config = ChannelConfig(type="weibo", link=LINK, credentials={"access_token": "${TEST_WEIBO_TOKEN}"})
    assert WeiboPublisher("weibo", config, harness.services).api.base_url == "https://api.weibo.com"


def test_a_delivery_whose_worker_died_before_sending_is_sent_not_left_unknown(
    harness: Harness, emulator: WeiboEmulator, publisher: WeiboPublisher
) -> None:
    variant = _variant(harness)
    harness.store.add_post("job", harness.clock.now(), "t", [variant], auto_approve=True, now=harness.clock.now())
    harness.store.claim_due(harness.clock.now(), dt.timedelta(seconds=1), [publisher.name])  # then the worker died
    harness.clock.advance(5)
    worker = harness.worker(publisher)
    worker.run_pass()  # the sweeper: nothing was sent, so it is retried rather than left to an editor
    harness.clock.advance(3600)
    worker.run_pass()
    [delivery] = harness.store.posts()[0].deliveries
    assert delivery.status == "published" and len(emulator.posts) == 1
