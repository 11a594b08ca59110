"""Telegram's contract: at most once. Bots cannot read a chat back, so a send that may have gone through stays unknown.

A reset before any reply is retried; a 429 waits parameters.retry_after; a revoked token pauses.
"""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.telegram import TelegramPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.telegram import CHAT, TOKEN, TelegramEmulator


def channel(emulator: Emulator, chat: str = CHAT, **options: str) -> ChannelConfig:
    return ChannelConfig(
        type="telegram",
        base_url=emulator.base_url,
        credentials={"bot_token": "${TEST_TELEGRAM_TOKEN}"},
        options={"chat_id": chat, **options},
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, TelegramEmulator)
    return len(emulator.posts)


CONTRACT = Contract(
    type="telegram",
    publisher=TelegramPublisher,
    emulator=lambda clock: TelegramEmulator(),
    channel=channel,
    secrets={"TEST_TELEGRAM_TOKEN": TOKEN},
    create="send_photo",  # the example's variants carry one card each
    posts=posts,
    outcomes={
        "server_error": "unknown",
        "reset": "unknown",  # at most once: the request may have been acted on before the reset
        "slow": "unknown",
        "commit_then_timeout": "unknown",
        "token_expired": "paused",
    },
)
