"""One suite over every publisher × its emulator: each fault ends as the API's contract says, never in two posts."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.compose.channels import SPECS
from pipeline.publish import PUBLISHERS, Publisher
from tests.contract.conftest import Harness
from tests.contract.contracts import FAULTS, Contract
from tests.contract.projects import CONTRACTS
from tests.emulators.base import Emulator


def test_every_publisher_is_registered_and_has_a_contract() -> None:
    assert {c.type for c in CONTRACTS} | {"outbox"} == set(PUBLISHERS), "register publishers in pipeline/publish"
    assert all(PUBLISHERS[c.type] is c.publisher for c in CONTRACTS)
    assert set(PUBLISHERS) <= set(SPECS)


def _publisher(contract: Contract, emulator: Emulator, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Publisher:
    for name, value in contract.secrets.items():
        monkeypatch.setenv(name, value)
    return contract.publisher(contract.type, contract.channel(emulator), harness.services)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.type)
def test_publishes_once_with_a_receipt(contract: Contract, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    with contract.emulator(harness.clock) as emulator:
        publisher = _publisher(contract, emulator, harness, monkeypatch)
        delivery = harness.publish(publisher, harness.example.variant(contract.type, contract.lang))
        assert (delivery.status, contract.posts(emulator)) == ("published", 1), delivery.error
        assert delivery.remote_id and delivery.url


@pytest.mark.parametrize(
    ("contract", "fault"),
    [(c, f) for c in CONTRACTS for f in FAULTS],
    ids=lambda value: value.type if isinstance(value, Contract) else value,
)
def test_fault(contract: Contract, fault: str, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    with contract.emulator(harness.clock) as emulator:
        publisher = _publisher(contract, emulator, harness, monkeypatch)
        emulator.inject(contract.create, FAULTS[fault]())
        delivery = harness.publish(publisher, harness.example.variant(contract.type, contract.lang))
        outcome = harness.outcome(publisher, delivery)
        assert outcome == contract.expected(fault), delivery.error
        assert contract.posts(emulator) == 1 if outcome == "published" else contract.posts(emulator) <= 1
        if fault.startswith("rate_limited") and outcome == "published":
            assert harness.waits[0] >= dt.timedelta(seconds=1), "the service's wait was not honoured"


def test_the_outbox_publishes_once_even_when_its_worker_dies_mid_write(harness: Harness) -> None:
    """The outbox has no API to fault: the contract is that a delivery sent again (a worker died after
    writing, before its receipt) leaves one file, and the retry finds it."""
    from pipeline.config import ChannelConfig
    from pipeline.publish.outbox import OutboxPublisher

    publisher = OutboxPublisher("outbox", ChannelConfig(type="outbox"), harness.services)
    variant = harness.example.variant("outbox", "zh")
    harness.store.add_post(
        "outbox-job", harness.clock.now(), "t", [variant], auto_approve=True, now=harness.clock.now()
    )
    [claimed] = harness.store.claim_due(harness.clock.now(), dt.timedelta(seconds=30), ["outbox"])
    publisher.publish(claimed, harness.worker(publisher).progress_for(claimed))  # written; then the worker died
    harness.clock.advance(60)
    harness.worker(publisher).run_pass()  # the sweep retries: the outbox is idempotent
    harness.clock.advance(3600)
    harness.worker(publisher).run_pass()
    [delivery] = harness.store.posts()[0].deliveries
    files = list((harness.services.outbox / "outbox").glob(f"delivery-{delivery.id}.json"))
    assert delivery.status == "published" and len(files) == 1 and delivery.url == files[0].resolve().as_uri()
