"""The worker pass and the outbox channel, against a real queue and real files."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
import requests
from PIL import Image

from pipeline.config import ChannelConfig
from pipeline.errors import AuthError, ContentRejected, InvalidTransition, OutcomeUnknown, TemporaryError
from pipeline.model import Card, Variant
from pipeline.publish.base import Progress, Publisher, Services
from pipeline.publish.http import Session
from pipeline.publish.outbox import OutboxPublisher
from pipeline.publish.tokens import StoredTokens
from pipeline.publish.worker import RetryPolicy, Worker
from pipeline.records import Delivery, DeliveryStatus, Receipt, Token
from pipeline.store import Store
from pipeline.testing import FakeClock

NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)


class Scripted(Publisher):
    """A publisher whose answers are scripted: an exception to raise or a receipt to return."""

    type = "scripted"
    idempotent = False

    def __init__(self, answers: list[Exception | Receipt], found: Receipt | None = None) -> None:
        super().__init__("scripted", ChannelConfig(type="webhook"), Services(Path(".")))
        self.answers, self.found, self.calls = answers, found, 0

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        return self.found


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    store.create_tables()
    return store


def _run(store: Store, publisher: Publisher, clock: FakeClock, channel: str = "scripted") -> DeliveryStatus:
    store.add_post("job", clock.now(), "t", [Variant(channel, "x", "en", "hi")], auto_approve=True, now=clock.now())
    worker = Worker(store, {channel: publisher}, clock, RetryPolicy(max_attempts=3), random.Random(1))
    outcomes = worker.run_pass()
    [status] = outcomes.elements()
    return DeliveryStatus(status)


def test_published_with_receipt(store: Store) -> None:
    assert _run(store, Scripted([Receipt("42", "https://x/42")]), FakeClock(NOW)) == "published"
    [delivery] = store.posts()[0].deliveries
    assert (delivery.remote_id, delivery.url) == ("42", "https://x/42")


def test_temporary_error_is_retried_after_the_service_wait(store: Store) -> None:
    clock = FakeClock(NOW)
    publisher = Scripted([TemporaryError("scripted", "429", retry_after=120), Receipt("1")])
    assert _run(store, publisher, clock) == "scheduled"
    [delivery] = store.posts()[0].deliveries
    assert delivery.due_at >= NOW + dt.timedelta(seconds=120) and "429" in (delivery.error or "")
    worker = Worker(store, {"scripted": publisher}, clock)
    assert worker.run_pass() == {}  # not due yet
    clock.advance(3600)
    assert worker.run_pass() == {"published": 1}


def test_gives_up_after_max_attempts(store: Store) -> None:
    clock = FakeClock(NOW)
    publisher = Scripted([TemporaryError("scripted", "503")] * 3)
    worker = Worker(store, {"scripted": publisher}, clock, RetryPolicy(max_attempts=3))
    store.add_post("job", NOW, "t", [Variant("scripted", "x", "en", "hi")], auto_approve=True, now=NOW)
    seen = []
    for _ in range(3):
        seen += list(worker.run_pass().elements())
        clock.advance(86400)
    assert seen == ["scheduled", "scheduled", "failed"]
    assert "gave up after 3 attempts" in (store.posts()[0].deliveries[0].error or "")


def test_rejected_content_fails_without_retry(store: Store) -> None:
    publisher = Scripted([ContentRejected("scripted", "text too long")])
    assert _run(store, publisher, FakeClock(NOW)) == "failed"
    assert publisher.calls == 1


def test_ambiguous_outcome_is_never_resent_blindly(store: Store) -> None:
    publisher = Scripted([OutcomeUnknown("scripted", "read timeout")])
    assert _run(store, publisher, FakeClock(NOW)) == "unknown"
    assert "an editor must check" in (store.posts()[0].deliveries[0].error or "")


def test_ambiguous_outcome_resolved_by_reconcile(store: Store) -> None:
    publisher = Scripted([OutcomeUnknown("scripted", "read timeout")], found=Receipt("7"))
    assert _run(store, publisher, FakeClock(NOW)) == "published"
    assert publisher.calls == 1


def test_reconcile_that_cannot_tell_yet_retries_instead_of_parking(store: Store) -> None:
    class CannotTellYet(Scripted):
        def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
            raise TemporaryError("scripted", "read-back unavailable", retry_after=30)

    publisher = CannotTellYet([OutcomeUnknown("scripted", "read timeout")])
    assert _run(store, publisher, FakeClock(NOW)) == "scheduled"
    [delivery] = store.posts()[0].deliveries
    assert "could not check yet" in (delivery.error or "") and delivery.due_at >= NOW + dt.timedelta(seconds=30)


def test_unexpected_exception_counts_as_ambiguous(store: Store) -> None:
    assert _run(store, Scripted([RuntimeError("boom")]), FakeClock(NOW)) == "unknown"


def test_expired_lease_is_swept(store: Store) -> None:
    clock = FakeClock(NOW)
    store.add_post("job", NOW, "t", [Variant("scripted", "x", "en", "hi")], auto_approve=True, now=NOW)
    store.claim_due(NOW, dt.timedelta(minutes=5), ["scripted"])  # a worker claimed it, then died
    clock.advance(301)
    worker = Worker(store, {"scripted": Scripted([], found=None)}, clock)
    assert worker.run_pass() == {"unknown": 1}


def test_refused_credentials_pause_the_channel_and_the_delivery_waits(store: Store) -> None:
    clock = FakeClock(NOW)
    publisher = Scripted([AuthError("scripted", "token refused after one refresh"), Receipt("9")])
    assert _run(store, publisher, clock) == "scheduled"
    assert "token refused" in store.paused()["scripted"]
    worker = Worker(store, {"scripted": publisher}, clock)
    assert worker.run_pass() == {} and publisher.calls == 1  # paused: nothing is claimed
    assert store.resume("scripted")
    assert worker.run_pass() == {"published": 1}


def test_channels_publish_side_by_side_and_a_pause_sends_the_rest_back(store: Store) -> None:
    variants = [Variant(c, "x", lang, "hi") for c in ("a", "b") for lang in ("en", "zh")]
    store.add_post("job", NOW, "t", variants, auto_approve=True, now=NOW)
    refused = Scripted([AuthError("a", "token refused"), Receipt("never")])
    fine = Scripted([Receipt("1"), Receipt("2")])
    worker = Worker(store, {"a": refused, "b": fine}, FakeClock(NOW))
    assert worker.run_pass() == {"published": 2, "scheduled": 2}
    assert refused.calls == 1 and fine.calls == 2
    waiting = [d for d in store.posts()[0].deliveries if d.channel == "a"]
    assert {d.status for d in waiting} == {"scheduled"} and all("paused" in (d.error or "") for d in waiting)


def test_progress_is_saved_as_it_happens_and_fenced(store: Store) -> None:
    store.add_post("job", NOW, "t", [Variant("scripted", "x", "en", "hi")], auto_approve=True, now=NOW)
    [delivery] = store.claim_due(NOW, dt.timedelta(minutes=5), ["scripted"])
    store.save_progress(delivery, {"draft": "D1"}, NOW)
    [again] = store.claim_due(NOW + dt.timedelta(minutes=1), dt.timedelta(minutes=5), ["scripted"]) or [None]
    assert again is None  # still leased
    assert store.post(delivery.post_id).deliveries[0].progress == {"draft": "D1"}
    store.finish(delivery, DeliveryStatus.SCHEDULED, NOW)
    [retry] = store.claim_due(NOW, dt.timedelta(minutes=5), ["scripted"])
    assert retry.progress == {"draft": "D1"}
    with pytest.raises(InvalidTransition):  # the first attempt's lease is gone: it may not write
        store.save_progress(delivery, {"draft": "D2"}, NOW)


def test_token_renewed_once_and_reused(store: Store) -> None:
    fetched: list[Token | None] = []

    def fetch(current: Token | None) -> Token:
        fetched.append(current)
        return Token(f"T{len(fetched)}", NOW + dt.timedelta(hours=2), "acct", {"refresh": "R"})

    def good(token: Token | None) -> bool:
        return token is not None and token.usable(NOW)

    assert store.token("wechat") is None
    first = store.renew_token("wechat", good, fetch)
    assert store.renew_token("wechat", good, fetch) == first == store.token("wechat")
    assert fetched == [None] and first.extra == {"refresh": "R"} and first.account == "acct"
    assert store.renew_token("wechat", lambda t: t is not None and t.value != "T1", fetch).value == "T2"


def _png(path: Path) -> Path:
    Image.new("RGB", (8, 10), "#123456").save(path)
    return path


def test_outbox_writes_once(tmp_path: Path, store: Store) -> None:
    card_path = _png(tmp_path / ("a" * 64 + ".png"))
    variant = Variant("outbox", "outbox", "zh", "你好", (Card(card_path.relative_to(tmp_path), 8, 10, "卡片"),))
    store.add_post("job", NOW, "t", [variant], auto_approve=True, now=NOW)
    [delivery] = store.claim_due(NOW, dt.timedelta(minutes=5), ["outbox"])
    outbox = OutboxPublisher("outbox", ChannelConfig(type="outbox"), Services(tmp_path, tmp_path / "outbox"))
    first = outbox.publish(delivery, Progress())
    written = tmp_path / "outbox/outbox" / f"delivery-{delivery.id}.json"
    before = written.stat().st_mtime_ns
    assert outbox.publish(delivery, Progress()) == first and written.stat().st_mtime_ns == before
    document = json.loads(written.read_text())
    assert document["text"] == "你好" and document["cards"] == [
        {"path": card_path.name, "width": 8, "height": 10, "alt": "卡片"}
    ]
    assert (written.parent / card_path.name).read_bytes() == card_path.read_bytes()
    assert outbox.reconcile(delivery, Progress()) == first
    assert sorted(p.name for p in written.parent.iterdir()) == sorted([written.name, card_path.name])


def test_session_reads_the_environment_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    session = Session()
    first = session.merge_environment_settings("https://api.x.com/2/tweets", {}, None, True, None)
    assert first["proxies"]["https"] == "http://proxy.internal:3128"
    assert first == requests.Session().merge_environment_settings("https://api.x.com/2/tweets", {}, None, True, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://other:3128")  # a worker's environment does not change; if it did,
    again = session.merge_environment_settings("https://api.x.com/2/media/upload", {}, None, True, None)
    assert again == first  # the origin's settings were kept
    other = session.merge_environment_settings("https://bsky.social/xrpc", {}, None, True, None)
    assert other["proxies"]["https"] == "http://other:3128"


def test_stored_tokens_are_read_once_in_a_while_and_renewals_seen_at_once(store: Store) -> None:
    reads = []
    real = store.token
    store.token = lambda key: reads.append(key) or real(key)  # type: ignore[method-assign]
    tokens = StoredTokens(store, keep=60)
    assert tokens.get("k") is None and tokens.get("k") is None and reads == ["k"]
    renewed = tokens.renew("k", lambda t: False, lambda t: Token("fresh-token-1"))
    assert tokens.get("k") == renewed and reads == ["k"]
    assert StoredTokens(store, keep=0).get("k") == renewed
