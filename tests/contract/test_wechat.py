"""The WeChat Official Account channel beyond the shared faults: the article as sent, tokens, errcodes,
publish jobs, and how a lost reply is settled from the draft box and the article list."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pipeline.errors import OutcomeUnknown, TemporaryError
from pipeline.model import Card, Variant
from pipeline.publish import Services
from pipeline.publish.base import Progress
from pipeline.publish.tokens import StoredTokens
from pipeline.publish.wechat import POLL_AGAIN, POLLS, WechatPublisher
from pipeline.records import Delivery, DeliveryStatus, Receipt
from tests.contract.apis.wechat import APPID, SECRET, SECRETS, channel
from tests.contract.conftest import NOW, Harness
from tests.emulators.base import Fault
from tests.emulators.wechat import WechatEmulator

PERMANENT = (40005, 40007, 40009, 44003, 45001, 45002, 45003, 45004, 45166, 47001, 53502, 53503, 53504, 53505, 53600)
REFRESHED = (40001, 40014, 41001, 42001)
ERRCODES = [
    (-1, "published", dt.timedelta(0)),
    (45011, "published", dt.timedelta(seconds=60)),
    (45009, "published", dt.timedelta(hours=15)),  # NOW is 09:00 in Beijing: the quota returns at midnight
    (53501, "published", dt.timedelta(seconds=60)),
    *((code, "published", dt.timedelta(0)) for code in REFRESHED),
    *((code, "paused", dt.timedelta(0)) for code in (40164, 48001, 53500)),
    *((code, "rejected", dt.timedelta(0)) for code in PERMANENT),
]


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[WechatEmulator]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with WechatEmulator(APPID, SECRET) as emulator:
        yield emulator


@pytest.fixture
def services(harness: Harness) -> Services:
    """The harness's services on its fake clock, so that polling waits cost no real time."""
    return dataclasses.replace(harness.services, clock=harness.clock)


@pytest.fixture
def variant(harness: Harness) -> Variant:
    return harness.example.variant("wechat", "zh")


def wechat(emulator: WechatEmulator, services: Services, **settings: object) -> WechatPublisher:
    return WechatPublisher("wechat", channel(emulator, **settings), services)


def delivery(variant: Variant) -> Delivery:
    return Delivery(1, 1, DeliveryStatus.PUBLISHING, 1, NOW, variant)


def test_cover_images_and_article_go_out_as_composed(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    extra = (
        harness.example.variant("wechat", "en").cards[0],
        Card(variant.cards[0].path, 900, 383, 'Say "沈阳" & smile'),
    )
    publisher = wechat(emulator, services, link="https://www.shenyang.gov.cn/", options={"author": "沈阳发布"})
    cards = variant.cards + extra
    sent = harness.publish(publisher, dataclasses.replace(variant, cards=cards))
    assert sent.status == "published", sent.error
    uploads, polls = ["uploadimg"] * len(cards[1:]), ["freepublish_get"] * 3  # the job runs for two polls
    expected = ["stable_token", "add_material", *uploads, "draft_add", "freepublish_submit", *polls]
    assert [r.endpoint for r in emulator.requests] == expected
    [cover] = emulator.calls("add_material")
    assert cover.args["type"] == "image" and cover.files["media"][:2] == (cards[0].path.name, "image/jpeg")
    assert [r.files["media"][0] for r in emulator.calls("uploadimg")] == [card.path.name for card in cards[1:]]

    [draft] = emulator.calls("draft_add")
    assert variant.title and variant.html and variant.digest
    assert variant.title.encode() in draft.body and b"\\u" not in draft.body  # UTF-8, unescaped
    images = "".join(
        f'<img src="{sent.progress[f"image_url_{i}"]}" alt="{html.escape(card.alt)}">'
        for i, card in enumerate(cards[1:], 1)
    )
    split = variant.html.index("</p>") + 4  # after the source line
    [article] = draft.json()["articles"]
    assert article == {
        "article_type": "news", "title": variant.title, "digest": variant.digest, "author": "沈阳发布",
        "content": variant.html[:split] + images + variant.html[split:],
        "content_source_url": "https://www.shenyang.gov.cn/", "thumb_media_id": sent.progress["cover_media_id"],
        "need_open_comment": 0, "only_fans_can_comment": 0,
    }  # fmt: skip
    [job] = emulator.published()
    assert job.articles[0]["content"] == article["content"]  # the images it issued survived
    assert (sent.remote_id, sent.url) == (job.article_id, job.url)


def test_publish_job_still_running_is_polled_again_without_a_second_submit(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    emulator.polls_to_finish = POLLS + 2  # still publishing after the first attempt's polls
    sent = harness.publish(wechat(emulator, services), variant)
    assert sent.status == "published" and sent.attempt == 2
    assert len(emulator.calls("freepublish_submit")) == 1 and len(emulator.calls("freepublish_get")) == POLLS + 3
    assert harness.waits[0] >= dt.timedelta(seconds=POLL_AGAIN)
    assert sent.progress["publish_id"] == str(next(iter(emulator.jobs.values())).publish_id)


def test_token_expiring_mid_run_is_refreshed_once(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    emulator.inject("draft_add", Fault.token_expired())
    sent = harness.publish(wechat(emulator, services), variant)
    assert sent.status == "published" and sent.attempt == 1
    assert emulator.refreshes == 1
    assert len(emulator.calls("draft_add")) == 2 and len(emulator.jobs) == 1


def test_two_publishers_sharing_the_token_store_refresh_once(harness: Harness, emulator: WechatEmulator) -> None:
    assert isinstance(harness.services.tokens, StoredTokens)
    first, second = wechat(emulator, harness.services), wechat(emulator, harness.services)
    assert first.verify().ok  # the token both now hold
    emulator.expire_tokens()
    emulator.latency = 0.3  # both send the expired token before either hears 42001
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(WechatPublisher.verify, (first, second)))
    assert all(report.ok for report in reports)
    assert emulator.refreshes == 1 and len(emulator.calls("stable_token")) == 2
    assert len(emulator.calls("quota_get")) == 5  # the first check, then two refused and two repeated


@pytest.mark.parametrize(("code", "outcome", "wait"), ERRCODES, ids=[str(code) for code, *_ in ERRCODES])
def test_errcode_on_submit(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant, code: int, outcome: str,
    wait: dt.timedelta,
) -> None:  # fmt: skip
    emulator.refuse("freepublish_submit", code)
    publisher = wechat(emulator, services)
    sent = harness.publish(publisher, variant)
    assert harness.outcome(publisher, sent) == outcome, sent.error
    assert len(emulator.jobs) == (outcome == "published")
    assert emulator.refreshes == (code in REFRESHED)
    if outcome == "published":
        assert (harness.waits[:1] or [dt.timedelta(0)])[0] >= wait
    else:
        assert f"errcode {code}" in (sent.error or "")


def test_token_refused_again_after_the_refresh_pauses(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    emulator.refuse("freepublish_submit", 40001, 42001)
    publisher = wechat(emulator, services)
    sent = harness.publish(publisher, variant)
    assert harness.outcome(publisher, sent) == "paused" and "refused again" in (sent.error or "")
    assert emulator.refreshes == 1 and not emulator.jobs


@pytest.mark.parametrize("refusal", ["secret", "ip"])
def test_refused_credentials_pause_the_channel(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant, refusal: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if refusal == "secret":
        monkeypatch.setenv("TEST_WECHAT_SECRET", "0123456789abcdef0123456789abcdef")
    emulator.ip_whitelisted = refusal != "ip"
    publisher = wechat(emulator, services)
    sent = harness.publish(publisher, variant)
    assert harness.outcome(publisher, sent) == "paused"
    assert ("40125" if refusal == "secret" else "40164") in (sent.error or "")
    assert SECRET not in (sent.error or "") and "0123456789abcdef" not in (sent.error or "")
    assert [r.endpoint for r in emulator.requests] == ["stable_token"]
    assert not publisher.verify().ok


@pytest.mark.parametrize(("title", "outcome"), [("𠮷" * 32, "published"), ("沈阳" * 16 + "！", "failed")])
def test_title_is_counted_in_code_points(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant, title: str, outcome: str
) -> None:
    """32 astral characters (64 UTF-16 units, 128 bytes) pass; 33 Han characters do not."""
    publisher = wechat(emulator, services)
    titled = dataclasses.replace(variant, title=title)
    assert any(p.startswith("title: 33 characters") for p in publisher.check(titled)) == (outcome == "failed")
    sent = harness.publish(publisher, titled)
    assert sent.status == outcome
    assert len(emulator.jobs) == (outcome == "published")
    if outcome == "failed":
        assert "errcode 45003" in (sent.error or "") and not emulator.drafts


def test_audit_rejection_fails_the_delivery(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    emulator.final_status = 4
    sent = harness.publish(wechat(emulator, services), variant)
    assert sent.status == "failed" and "publish_status 4: the audit rejected it; fail_idx [1]" in (sent.error or "")
    assert len(emulator.jobs) == 1 and emulator.published() == []


def test_unanswered_draft_is_found_instead_of_made_twice(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    emulator.inject("draft_add", Fault.commit_then_timeout())
    sent = harness.publish(wechat(emulator, services), variant)
    assert sent.status == "published" and sent.attempt == 2
    assert len(emulator.calls("draft_add")) == 1 and len(emulator.calls("draft_batchget")) == 1
    assert len(emulator.jobs) == 1 and emulator.drafts == {}


@pytest.mark.parametrize(
    ("fault", "submits", "searches"), [(Fault.server_error(502), 2, 0), (Fault.commit_then_timeout(), 1, 3)]
)
def test_lost_submit_reply_is_settled_from_the_draft_box(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant, fault: Fault, submits: int,
    searches: int,
) -> None:  # fmt: skip
    """A draft still waiting was not submitted (submit again); a vanished one became the article, found
    in freepublish/batchget at the third look (the job runs for two)."""
    emulator.inject("freepublish_submit", fault)
    sent = harness.publish(wechat(emulator, services), variant)
    [job] = emulator.jobs.values()
    assert (sent.status, sent.remote_id) == ("published", job.article_id)
    assert len(emulator.calls("freepublish_submit")) == submits
    assert len(emulator.calls("freepublish_batchget")) == searches
    assert len(emulator.calls("draft_batchget")) == 1


def test_reconcile_polls_a_saved_publish_id(emulator: WechatEmulator, services: Services, variant: Variant) -> None:
    emulator.polls_to_finish = POLLS  # publish's polls all see "publishing"; the next one sees the end
    publisher, progress = wechat(emulator, services), Progress()
    with pytest.raises(TemporaryError, match="still running"):
        publisher.publish(delivery(variant), progress)
    [job] = emulator.jobs.values()
    assert progress.get("publish_id") == str(job.publish_id)
    assert publisher.reconcile(delivery(variant), progress) == Receipt(job.article_id, job.url)
    assert len(emulator.calls("freepublish_submit")) == 1


def test_reconcile_finds_the_article_once_the_job_ends(
    emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    emulator.polls_to_finish = POLLS  # publish's own search ends before the job does
    emulator.inject("freepublish_submit", Fault.commit_then_timeout())
    publisher, progress = wechat(emulator, services), Progress()
    with pytest.raises(OutcomeUnknown):
        publisher.publish(delivery(variant), progress)
    [job] = emulator.jobs.values()
    assert "publish_id" not in progress.values and emulator.drafts == {}
    assert publisher.reconcile(delivery(variant), progress) == Receipt(job.article_id, job.url)


def test_reconcile_says_none_when_nothing_was_submitted(
    emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    publisher, progress = wechat(emulator, services), Progress()
    assert publisher.reconcile(delivery(variant), progress) is None
    emulator.refuse("freepublish_submit", 53501)
    with pytest.raises(TemporaryError):
        publisher.publish(delivery(variant), progress)
    assert progress.get("draft_media_id") in emulator.drafts
    assert publisher.reconcile(delivery(variant), progress) is None and not emulator.jobs


def test_verify_reads_the_publish_quota(
    harness: Harness, emulator: WechatEmulator, services: Services, variant: Variant
) -> None:
    publisher = wechat(emulator, services)
    assert harness.publish(publisher, variant).status == "published"
    report = publisher.verify()
    assert report.ok and report.limits == {"title": 32, "digest": 128, "content": 19_999}
    assert report.quota == "freepublish/submit: 1 of 100 used today, 99 left"
    assert emulator.calls("quota_get")[-1].json() == {"cgi_path": "/cgi-bin/freepublish/submit"}


def test_emulator_keeps_only_issued_images_and_shows_escapes_literally(emulator: WechatEmulator) -> None:
    with requests.Session() as session:
        token = session.post(
            emulator.base_url + "/cgi-bin/stable_token",
            json={"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": False},
        ).json()["access_token"]

        def call(path: str, body: bytes = b"", **kwargs: object) -> dict[str, object]:
            url = f"{emulator.base_url}/cgi-bin/{path}"
            return session.post(url, params={"access_token": token}, data=body or None, **kwargs).json()  # type: ignore[arg-type]

        cover = call("material/add_material?type=image", files={"media": ("c.png", b"\x89PNG", "image/png")})
        issued = call("media/uploadimg", files={"media": ("i.png", b"\x89PNG", "image/png")})["url"]
        content = f'<p>x</p><img src="{issued}"><img src="https://example.com/a.png"><script>alert(1)</script>'
        article = {"title": "沈阳", "content": content, "thumb_media_id": cover["media_id"]}
        assert "media_id" in call("draft/add", json.dumps({"articles": [article]}, ensure_ascii=False).encode())
        escaped = json.dumps({"articles": [article | {"title": "沈阳" * 6}]}).encode()  # 12 characters, 72 escaped
        assert call("draft/add", escaped)["errcode"] == 45003
    [draft] = emulator.drafts.values()
    assert draft.articles[0]["content"] == f'<p>x</p><img src="{issued}">'
    assert "example.com" not in json.dumps(draft.articles)
