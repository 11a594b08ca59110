"""The outbox channel: each delivery becomes a JSON file plus its images in var/outbox/<channel>/.

Images are written first under their content hash, then the JSON is renamed into place, so a
reader never sees a delivery whose images are missing; an existing JSON file means "already sent".
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..config import ChannelConfig
from ..model import Card
from ..records import Delivery, Receipt
from .base import Progress, Publisher, Services


class OutboxPublisher(Publisher):
    type = "outbox"
    idempotent = True

    def __init__(self, name: str, config: ChannelConfig, services: Services) -> None:
        super().__init__(name, config, services)
        self.folder = services.outbox / name

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        target = self.folder / f"delivery-{delivery.id}.json"
        if not target.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            for card in delivery.variant.cards:
                self._copy(card)
            _write_atomically(target, _encoded(document(delivery)))
        return self._receipt(target)

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        target = self.folder / f"delivery-{delivery.id}.json"
        return self._receipt(target) if target.exists() else None

    def _copy(self, card: Card) -> None:
        copy = self.folder / card.path.name
        if not copy.exists():
            shutil.copyfile(self.services.root / card.path, copy)

    def _receipt(self, target: Path) -> Receipt:
        return Receipt(remote_id=target.stem, url=target.resolve().as_uri())


def document(delivery: Delivery) -> dict[str, Any]:
    """The delivery's JSON file: its ids and variant, each card named by its copy beside the file."""
    cards = [card.to_json() | {"path": card.path.name} for card in delivery.variant.cards]
    return delivery.variant.to_json() | {"cards": cards, "delivery_id": delivery.id, "post_id": delivery.post_id}


def _encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def _write_atomically(target: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
