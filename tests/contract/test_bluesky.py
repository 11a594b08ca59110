"""Bluesky beyond the shared faults: TIDs, the record, facets, the shared session, the error table, verify()."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from pipeline.compose.facets import bluesky_facets
from pipeline.errors import OutcomeUnknown
from pipeline.model import Variant
from pipeline.publish.base import Progress
from pipeline.publish.bluesky import BlueskyPublisher, jwt_expiry, tid, tid_time
from pipeline.records import Delivery, DeliveryStatus
from tests.contract.apis.bluesky import HANDLE, PASSWORD, channel
from tests.contract.conftest import Harness
from tests.emulators.base import Fault
from tests.emulators.bluesky import BlueskyEmulator, cid

TAGGED = "沈阳位列东北地区第一！ #沈阳 详见 https://www.shenyang.gov.cn/zwgk/。\n#Shenyang"


@pytest.fixture
def emulator(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlueskyEmulator]:
    monkeypatch.setenv("TEST_BLUESKY_IDENTIFIER", HANDLE)
    monkeypatch.setenv("TEST_BLUESKY_PASSWORD", PASSWORD)
    with BlueskyEmulator(HANDLE, PASSWORD, clock=harness.clock) as emulator:
        yield emulator


@pytest.fixture
def publisher(harness: Harness, emulator: BlueskyEmulator) -> BlueskyPublisher:
    """TIDs and session expiry go by the harness's fake clock, as the emulator's JWTs do."""
    services = dataclasses.replace(harness.services, clock=harness.clock)
    return BlueskyPublisher("bluesky", channel(emulator), services)


def _variant(harness: Harness, text: str | None = None, lang: str = "zh") -> Variant:
    variant = harness.example.variant("bluesky", lang)
    if text is None:
        return variant
    return dataclasses.replace(variant, text=text, extra=variant.extra | {"facets": bluesky_facets(text)})


def _delivery(variant: Variant) -> Delivery:
    return Delivery(1, 1, DeliveryStatus.PUBLISHING, 1, dt.datetime.now(dt.UTC), variant)


def test_tid_matches_the_sheet_and_sorts_by_time() -> None:
    new_year = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert tid(new_year, 7) == "3mbd3542k222b"
    assert tid_time("3mbd3542k222b") == "2026-01-01T00:00:00.000Z"
    later = [tid(new_year + dt.timedelta(microseconds=n), 1023) for n in (1, 1000, 10**9)]
    assert sorted(later) == later and tid(new_year, 1023) < later[0]
    assert all(len(k) == 13 and set(k) <= set("234567abcdefghijklmnopqrstuvwxyz") for k in later)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_uploads_the_card_then_creates_the_record_under_the_planned_rkey(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher, lang: str
) -> None:
    variant = _variant(harness, lang=lang)
    delivery = harness.publish(publisher, variant)
    [upload], [create] = emulator.calls("upload_blob"), emulator.calls("create_record")
    card = variant.cards[0]
    image = (harness.example.root / card.path).read_bytes()
    assert upload.headers["Content-Type"] == "image/jpeg" and upload.body == image
    assert emulator.requests.index(upload) < emulator.requests.index(create)
    rkey = delivery.progress["rkey"]
    blob = {"$type": "blob", "ref": {"$link": cid(image, 0x55)}, "mimeType": "image/jpeg", "size": len(image)}
    assert create.json() == {
        "repo": emulator.did,
        "collection": "app.bsky.feed.post",
        "rkey": rkey,
        "record": {
            "$type": "app.bsky.feed.post",
            "text": variant.text,
            "createdAt": tid_time(rkey),
            "langs": [lang],
            "embed": {
                "$type": "app.bsky.embed.images",
                "images": [{"alt": card.alt, "image": blob, "aspectRatio": {"width": 1080, "height": 1350}}],
            },
        },
    }
    assert tid_time(rkey) == harness.clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert delivery.remote_id == f"at://{emulator.did}/app.bsky.feed.post/{rkey}" == emulator.records[rkey]["uri"]
    assert delivery.url == f"https://bsky.app/profile/{emulator.did}/post/{rkey}"


def test_compose_facets_are_sent_byte_indexed(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    variant = _variant(harness, TAGGED)
    harness.publish(publisher, variant)
    [record] = emulator.records.values()
    text = record["value"]["text"].encode()
    spans = [
        (text[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in record["value"]["facets"]
    ]
    assert spans == [
        ("#沈阳", {"$type": "app.bsky.richtext.facet#tag", "tag": "沈阳"}),
        (
            "https://www.shenyang.gov.cn/zwgk/",
            {"$type": "app.bsky.richtext.facet#link", "uri": "https://www.shenyang.gov.cn/zwgk/"},
        ),
        ("#Shenyang", {"$type": "app.bsky.richtext.facet#tag", "tag": "Shenyang"}),
    ]


def test_facets_outside_the_text_are_refused(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    variant = _variant(harness, "短文 #沈阳")
    beyond = [
        {"index": {"byteStart": 7, "byteEnd": 40}, "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}
    ]
    delivery = harness.publish(publisher, dataclasses.replace(variant, extra={"facets": beyond}))
    assert delivery.status == "failed" and "Record/facets/0/index" in (delivery.error or "") and not emulator.records


def test_the_session_is_created_once_and_shared_by_later_posts(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    for lang in ("zh", "en"):
        assert harness.publish(publisher, _variant(harness, lang=lang)).status == "published"
        harness.clock.advance(60)  # the next post is the next job fire
    assert len(emulator.calls("create_session")) == 1 and emulator.calls("refresh_session") == []
    assert len(emulator.records) == 2


def test_an_access_jwt_expiring_mid_run_is_refreshed_once_then_the_call_sent_again(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    emulator.inject("create_record", Fault.token_expired())
    delivery = harness.publish(publisher, _variant(harness))
    assert delivery.status == "published" and len(emulator.records) == 1
    assert len(emulator.calls("create_session")) == 1 and len(emulator.calls("refresh_session")) == 1
    [refused, accepted] = emulator.calls("create_record")
    assert refused.headers["Authorization"] != accepted.headers["Authorization"]
    token = harness.services.tokens.get(f"bluesky:{HANDLE}")
    assert token is not None and f"Bearer {token.value}" == accepted.headers["Authorization"]


def test_a_refused_refresh_jwt_falls_back_to_one_new_session(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    harness.publish(publisher, _variant(harness, lang="en"))
    harness.clock.advance(60)
    emulator.refresh.clear()  # e.g. revoked by a password change
    emulator.inject("create_record", Fault.token_expired())
    assert harness.publish(publisher, _variant(harness)).status == "published"
    assert len(emulator.calls("refresh_session")) == 1 and len(emulator.calls("create_session")) == 2


def test_a_session_past_its_expiry_is_refreshed_before_use(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    harness.publish(publisher, _variant(harness, lang="en"))
    harness.clock.advance(3 * 3600)  # past the access JWT's exp: the client knows without asking
    assert harness.publish(publisher, _variant(harness)).status == "published"
    assert len(emulator.calls("refresh_session")) == 1 and len(emulator.calls("create_session")) == 1
    writes = [r for r in emulator.requests if r.endpoint in ("upload_blob", "create_record")]
    assert len(writes) == 4  # one blob and one record per post: no call was refused and sent again


@pytest.mark.parametrize("grace", [0, 60])
def test_a_used_refresh_jwt_is_refused_after_the_grace_period(
    harness: Harness, emulator: BlueskyEmulator, grace: int
) -> None:
    emulator.refresh_grace = grace
    login = {"identifier": HANDLE, "password": PASSWORD}
    session = requests.post(f"{emulator.base_url}/xrpc/com.atproto.server.createSession", json=login).json()
    assert jwt_expiry(session["accessJwt"]) == harness.clock.now().replace(microsecond=0) + dt.timedelta(hours=2)

    def refresh() -> requests.Response:
        headers = {"Authorization": f"Bearer {session['refreshJwt']}"}
        return requests.post(f"{emulator.base_url}/xrpc/com.atproto.server.refreshSession", headers=headers)

    assert refresh().status_code == 200
    assert refresh().status_code == (200 if grace else 400)
    harness.clock.advance(grace)
    refused = refresh()
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "ExpiredToken", "message": "Token has been revoked"},
    )


@pytest.mark.parametrize(
    ("credentials", "says"),
    [
        ({"TEST_BLUESKY_PASSWORD": "wrong-app-password"}, "Invalid identifier or password"),
        ({"TEST_BLUESKY_IDENTIFIER": "someone.else"}, "AuthenticationRequired"),
    ],
    ids=["password", "identifier"],
)
def test_refused_credentials_pause_the_channel_without_showing_them(
    harness: Harness,
    emulator: BlueskyEmulator,
    publisher: BlueskyPublisher,
    monkeypatch: pytest.MonkeyPatch,
    credentials: dict[str, str],
    says: str,
) -> None:
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    delivery = harness.publish(publisher, _variant(harness))
    assert harness.outcome(publisher, delivery) == "paused" and says in (delivery.error or "")
    assert "wrong-app-password" not in (delivery.error or "") and not emulator.records


def _blob_cap(emulator: BlueskyEmulator) -> None:
    emulator.blob_max = 100_000


def _record_500(emulator: BlueskyEmulator) -> None:
    emulator.inject("create_record", Fault.server_error(500))


def _blob_429(emulator: BlueskyEmulator) -> None:
    emulator.inject("upload_blob", Fault.rate_limited(2))


def _lost_reply(emulator: BlueskyEmulator) -> None:
    emulator.inject("create_record", Fault.commit_then_timeout(1.0))


@pytest.mark.parametrize(
    ("text", "setup", "outcome", "says"),
    [
        ("沈" * 301, None, "rejected", "must not be longer than 300 graphemes"),
        ("👨‍👩‍👧‍👦" * 121, None, "rejected", "must not be longer than 3000 characters"),  # 121 graphemes, 3025 bytes
        ("👨‍👩‍👧‍👦" * 120, None, "published", None),  # 3000 bytes exactly
        (None, _blob_cap, "rejected", "BlobTooLarge"),
        (None, _record_500, "published", None),
        (None, _blob_429, "published", None),
        (None, _lost_reply, "published", None),
    ],
    ids=["301-graphemes", "3025-bytes", "3000-bytes", "blob-too-large", "500-record", "429-blob", "lost-reply"],
)
def test_error_table(
    harness: Harness,
    emulator: BlueskyEmulator,
    publisher: BlueskyPublisher,
    text: str | None,
    setup: Callable[[BlueskyEmulator], None] | None,
    outcome: str,
    says: str | None,
) -> None:
    if setup is not None:
        setup(emulator)
    delivery = harness.publish(publisher, _variant(harness, text))
    assert harness.outcome(publisher, delivery) == outcome, delivery.error
    assert len(emulator.records) == (outcome == "published")
    if says is not None:
        assert says in (delivery.error or "")
    if text is not None:
        assert bool(publisher.check(_variant(harness, text))) == (outcome == "rejected")  # compose's count agrees
    if setup is _blob_429:
        assert harness.waits[0] >= dt.timedelta(seconds=1)


def test_a_retry_reads_the_rkey_back_and_never_creates_it_twice(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    emulator.inject("create_record", Fault.commit_then_timeout(1.0))
    delivery, progress = _delivery(_variant(harness)), Progress()
    with pytest.raises(OutcomeUnknown):
        publisher.publish(delivery, progress)
    receipt = publisher.publish(delivery, progress)
    [lookup] = emulator.calls("get_record")
    assert lookup.args == {"repo": emulator.did, "collection": "app.bsky.feed.post", "rkey": progress.values["rkey"]}
    assert len(emulator.calls("create_record")) == 1 and len(emulator.calls("upload_blob")) == 1
    assert receipt.remote_id == emulator.records[progress.values["rkey"]]["uri"]


def test_a_retry_after_nothing_went_out_creates_the_same_record(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    emulator.inject("create_record", Fault.reset())
    delivery, progress = _delivery(_variant(harness)), Progress()
    with pytest.raises(OutcomeUnknown):
        publisher.publish(delivery, progress)
    harness.clock.advance(600)
    publisher.publish(delivery, progress)
    first, second = emulator.calls("create_record")
    assert first.body == second.body  # same rkey, same createdAt, same blob refs
    assert len(emulator.calls("get_record")) == 1 and len(emulator.records) == 1


def test_reconcile_reads_the_saved_rkey(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    delivery = _delivery(_variant(harness))
    assert publisher.reconcile(delivery, Progress()) is None and emulator.requests == []
    never_sent = Progress({"rkey": tid(harness.clock.now(), 3)})
    assert publisher.reconcile(delivery, never_sent) is None
    progress = Progress()
    receipt = publisher.publish(delivery, progress)
    assert publisher.reconcile(delivery, progress) == receipt


def test_the_emulator_refuses_a_repeated_rkey_and_a_key_that_is_not_a_tid(emulator: BlueskyEmulator) -> None:
    session = requests.post(
        f"{emulator.base_url}/xrpc/com.atproto.server.createSession", json={"identifier": HANDLE, "password": PASSWORD}
    ).json()
    headers = {"Authorization": f"Bearer {session['accessJwt']}"}
    record = {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00.000Z"}

    def create(rkey: str) -> requests.Response:
        body = {"repo": emulator.did, "collection": "app.bsky.feed.post", "rkey": rkey, "record": record}
        return requests.post(f"{emulator.base_url}/xrpc/com.atproto.repo.createRecord", json=body, headers=headers)

    assert create("3mbd3542k222b").status_code == 200
    repeated = create("3mbd3542k222b")
    assert (repeated.status_code, repeated.json()["error"]) == (500, "InternalServerError")
    assert create("post-1").json()["error"] == "InvalidRequest" and len(emulator.records) == 1


def test_verify_reports_the_session_limits_and_quota(emulator: BlueskyEmulator, publisher: BlueskyPublisher) -> None:
    report = publisher.verify()
    assert report.ok and emulator.did in report.detail
    assert report.limits == {"max_graphemes": 300, "max_bytes": 3000, "max_images": 4, "max_blob_bytes": 1_000_000}
    assert report.quota == "2998 of 3000 left (3000;w=300)"
    assert publisher.verify().ok and len(emulator.calls("create_session")) == 1  # the session is reused
    assert not emulator.records and not emulator.blobs


def test_verify_with_refused_credentials(
    emulator: BlueskyEmulator, publisher: BlueskyPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BLUESKY_PASSWORD", "wrong-app-password")
    report = publisher.verify()
    assert not report.ok and "401" in report.detail and "wrong-app-password" not in report.detail


def test_blob_refs_are_content_addressed() -> None:
    assert cid(b"", 0x55).startswith("bafkrei") and cid(b"{}", 0x71).startswith("bafyrei")
    assert cid(b"a", 0x55) != cid(b"b", 0x55) and len(cid(b"a", 0x55)) == 59


def test_a_rate_limited_create_session_waits_instead_of_pausing(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    emulator.sessions_created = [time.time()] * emulator.session_limit  # 30 sessions in the last 5 minutes
    delivery = harness.publish(publisher, _variant(harness), passes=1)
    assert delivery.status == "scheduled" and not harness.paused(publisher)
    assert "RateLimitExceeded" in (delivery.error or "") and harness.waits[0] >= dt.timedelta(seconds=290)


def test_more_than_four_images_are_refused(
    harness: Harness, emulator: BlueskyEmulator, publisher: BlueskyPublisher
) -> None:
    variant = _variant(harness)
    five = dataclasses.replace(variant, cards=variant.cards * 5)
    assert publisher.check(five) == ["5 images; the limit is 4"]
    delivery = harness.publish(publisher, five)
    assert delivery.status == "failed" and "must not have more than 4 elements" in (delivery.error or "")
    assert emulator.records == {}
