"""The Publisher interface: one subclass per API, limits and capabilities as class data."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import requests

from ..clock import Clock, SystemClock
from ..config import ChannelConfig
from ..errors import AuthError, OutcomeUnknown, PublishError, TemporaryError
from ..model import Card, Variant
from ..records import Delivery, Receipt
from .http import Api, Session, Timeouts
from .tokens import MemoryTokens, TokenCache


@dataclass(frozen=True)
class Limits:
    max_chars: int | None = None
    max_images: int | None = None


@dataclass(frozen=True)
class Services:
    """What every publisher is given: where card files live, the HTTP session, the shared tokens."""

    root: Path
    outbox: Path = Path("var/outbox")
    session: requests.Session = field(default_factory=Session)
    tokens: TokenCache = field(default_factory=MemoryTokens)
    timeouts: Timeouts = field(default_factory=Timeouts)
    clock: Clock = field(default_factory=SystemClock)


class Progress:
    """What earlier attempts of a delivery did: keys planned and ids returned, saved as they happen.

    `once` is how a publisher never repeats a step that created something: the planned idempotency
    key is saved before the first request, and every returned id right after its reply.
    """

    def __init__(self, values: dict[str, str] | None = None, save: Callable[[dict[str, str]], None] | None = None):
        self.values, self._save = dict(values or {}), save

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def once(self, key: str, make: Callable[[], str]) -> str:
        if key not in self.values:
            self.put(key, make())
        return self.values[key]

    def put(self, key: str, value: str) -> None:
        self.update({key: value})

    def update(self, values: dict[str, str]) -> None:
        """Save several values at once (one write)."""
        self.values.update(values)
        if self._save is not None:
            self._save(dict(self.values))


@dataclass(frozen=True)
class ChannelReport:
    """`shortline channels check`: whether the credentials work, the limits, and the quota in use."""

    channel: str
    ok: bool
    detail: str
    limits: dict[str, int] = field(default_factory=dict)
    quota: str | None = None
    skipped: bool = False  # not checked: its credentials are not set


class Publisher(abc.ABC):
    type: ClassVar[str]
    # True when publishing the same delivery again can never make a second post.
    idempotent: ClassVar[bool]
    limits: ClassVar[Limits] = Limits()
    default_base_url: ClassVar[str] = ""

    def __init__(self, name: str, config: ChannelConfig, services: Services) -> None:
        self.name, self.config, self.services = name, config, services
        self.api = Api(name, config.base_url or self.default_base_url, services.session, services.timeouts)

    def secret(self, key: str) -> str:
        """A credential's value; unset credentials are caught before publishing, so this is a guard."""
        value = self.config.secret(key)
        if value is None:
            raise AuthError(self.name, f"the credential {key!r} is not set in the environment")
        return value

    def option(self, key: str, default: str = "") -> str:
        return str(self.config.options.get(key, default))

    def card_bytes(self, card: Card) -> bytes:
        return (self.services.root / card.path).read_bytes()

    def check(self, variant: Variant) -> list[str]:
        """Problems with a variant for this channel, found without any I/O."""
        problems = []
        if self.limits.max_chars is not None and len(variant.text) > self.limits.max_chars:
            problems.append(f"{len(variant.text)} characters; the limit is {self.limits.max_chars}")
        if self.limits.max_images is not None and len(variant.cards) > self.limits.max_images:
            problems.append(f"{len(variant.cards)} images; the limit is {self.limits.max_images}")
        return problems

    @abc.abstractmethod
    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        """Send one delivery; raise a PublishError subclass on failure."""

    def reconcile(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """Did this delivery already go out? None when it did not, or when the API cannot tell.

        Raise TemporaryError only when the answer is not known yet and a later publish() of the
        same delivery checks again before it sends anything (the worker then simply retries).
        """
        return None

    def read_back(self, delivery: Delivery, progress: Progress) -> Receipt | None:
        """reconcile() as publish() asks it before sending again: a check that fails is OutcomeUnknown
        (never a resend); refused credentials stay AuthError (they pause the channel)."""
        try:
            return self.reconcile(delivery, progress)
        except AuthError:
            raise
        except PublishError as exc:
            raise OutcomeUnknown(self.name, f"could not check whether an earlier attempt posted: {exc}") from None

    def settle(
        self,
        delivery: Delivery,
        progress: Progress,
        error: OutcomeUnknown,
        *,
        retry: bool = True,
        wait: float | None = None,
    ) -> Receipt:
        """A create that got no clear answer: read back now. Found means published. Absent means not sent
        (yet): retry later, and that attempt reads back first; with `retry=False` (a duplicate answer whose
        twin is not found) the error stands, for an editor."""
        found = self.read_back(delivery, progress)
        if found is not None:
            return found
        if not retry:
            raise error
        reason = str(error).removeprefix(f"{self.name}: ")
        raise TemporaryError(self.name, f"{reason}; not found when read back, so it is sent again after a check", wait)

    def verify(self) -> ChannelReport:
        """Check credentials and read limits and quota without posting anything."""
        return ChannelReport(self.name, True, "nothing to verify for this channel type")
