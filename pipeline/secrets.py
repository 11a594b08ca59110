"""Secrets never leave the process: every known secret is masked in log records and error text.

A secret is registered when it is read from the environment or received from an API (access
tokens, session JWTs). Masking happens in the log record factory, so it covers every logger,
including urllib3's debug lines that carry full URLs (WeChat and Telegram put tokens there).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

MASK = "***"
_known: set[str] = set()
_lock = threading.Lock()
_pattern: tuple[str, ...] = ()
_MIN_LENGTH = 4  # shorter values would mask ordinary words; no real credential is that short


def register(*values: str | None) -> None:
    """Remember secrets so that `redact` and every log record mask them from now on."""
    global _pattern
    fresh = {v for v in values if v and len(v) >= _MIN_LENGTH and v not in _known}
    if fresh:
        with _lock:
            _known.update(fresh)
            _pattern = tuple(sorted(_known, key=len, reverse=True))  # longest first: no partial leftovers
        install_log_masking()


def redact(text: str) -> str:
    """The text with every registered secret replaced by ***."""
    for secret in _pattern:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def install_log_masking() -> None:
    """Mask secrets in every log record made from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_secrets", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if _pattern:
            record.msg, record.args = redact(record.getMessage()), None
            if record.exc_info:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    masking_factory.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
