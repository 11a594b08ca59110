"""One channel's HTTP access: base URL, shared session, timeouts, and failures turned into PublishErrors.

The rule that keeps posts single: a request that may have reached the service and created
something (`create=True`) and then failed without an answer is OutcomeUnknown, never a plain retry.
A request that never left (connection refused, connect timeout) is always safe to retry.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from ..errors import AuthError, ContentRejected, OutcomeUnknown, PublishError, TemporaryError

NEVER_SENT = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


class Session(requests.Session):
    """A requests.Session that reads proxy and CA settings from the environment once per origin.

    requests re-reads the environment (every variable, for the proxy rules) on each request; a
    worker's environment does not change while it runs, so the answer is kept per origin.
    """

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[str, object, object, object, object], Any] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if proxies or not isinstance(url, str):  # per-call proxies: the rare case, not kept
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}", stream, verify, cert, self.trust_env)
        if key not in self._settings:
            self._settings[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(self._settings[key])


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


class Api:
    """Requests to one service for one channel; error messages name the path, never the query."""

    def __init__(self, channel: str, base_url: str, session: requests.Session, timeouts: Timeouts) -> None:
        self.channel, self.base_url, self.session, self.timeouts = channel, base_url.rstrip("/"), session, timeouts

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method: str, path: str, *, create: bool = False, **kwargs: Any) -> requests.Response:
        """Send one request; transport failures become TemporaryError or, for `create`, OutcomeUnknown."""
        timeout = (self.timeouts.connect, self.timeouts.read)
        try:
            return self.session.request(method, self.url(path), timeout=timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise self.transport_error(method, path, exc, create) from None

    def transport_error(self, method: str, path: str, exc: requests.RequestException, create: bool) -> PublishError:
        where = f"{method} {path.split('?', 1)[0]}"
        if isinstance(exc, requests.ConnectTimeout) or _caused_by(exc, NEVER_SENT):
            return TemporaryError(self.channel, f"{where}: could not connect ({type(exc).__name__})")
        what = "no reply within the read timeout" if isinstance(exc, requests.ReadTimeout) else "connection lost"
        if create:
            return OutcomeUnknown(self.channel, f"{where}: {what}; the request may have been carried out")
        return TemporaryError(self.channel, f"{where}: {what}")

    def status_error(self, response: requests.Response, *, create: bool, message: str = "") -> PublishError:
        """The usual reading of an HTTP error status; publishers refine it with the API's own codes."""
        where = f"{response.request.method} {_path(response)} answered {response.status_code}"
        text = f"{where}: {message}" if message else where
        status, excerpt = response.status_code, response.text
        if status == 429:
            return TemporaryError(self.channel, f"{text} (rate limited)", wait_hint(response.headers))
        if status >= 500:
            if create:
                return OutcomeUnknown(self.channel, text, excerpt)
            return TemporaryError(self.channel, text, wait_hint(response.headers))
        if status == 401:
            return AuthError(self.channel, text, excerpt)
        return ContentRejected(self.channel, text, excerpt)


def wait_hint(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from Retry-After (seconds or HTTP-date) or a rate-limit reset header."""
    now = time.time() if now is None else now
    if value := headers.get("Retry-After"):
        return _seconds_or_date(value, now)
    for name in ("X-RateLimit-Reset", "RateLimit-Reset", "x-rate-limit-reset"):
        if value := headers.get(name):
            return _reset_time(value, now)
    return None


def _seconds_or_date(value: str, now: float) -> float | None:
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _reset_time(value: str, now: float) -> float | None:
    """Mastodon sends an ISO-8601 instant; X and Bluesky send epoch seconds."""
    try:
        at = float(value)
    except ValueError:
        try:
            at = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return max(0.0, at - now)


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether an exception or anything in its chain (or urllib3's `reason`) is of these kinds."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
    return False


def _path(response: requests.Response) -> str:
    url = response.request.url or ""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
