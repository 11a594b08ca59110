"""Facts from an HTTP JSON source, fetched defensively.

Only http and https; connect and read timeouts; a cap on the body size, enforced while reading;
and no request to a private, loopback, link-local or otherwise non-global address, checked for
the first URL and for every redirect, unless the configuration names the host as allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from .. import netguard, yamldoc
from ..errors import FactError, Problem
from ..model import FactSet
from . import schema


@dataclass(frozen=True)
class HttpPolicy:
    allow_hosts: frozenset[str] = frozenset()
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_bytes: int = 1_000_000
    max_redirects: int = 5


def load(url: str, policy: HttpPolicy, session: requests.Session | None = None) -> FactSet:
    body = fetch(url, policy, session or requests.Session())
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FactError([Problem(url, 0, "the response is not UTF-8 JSON")]) from None
    return schema.build(yamldoc.parse(text, url, FactError))


def fetch(url: str, policy: HttpPolicy, session: requests.Session) -> bytes:
    """GET `url`, following at most `max_redirects` redirects, each one checked like the first."""
    for _ in range(policy.max_redirects + 1):
        check_address(url, policy)
        response = _get(session, url, policy)
        if not response.is_redirect:
            return _body(url, response, policy)
        url = urljoin(url, response.headers["location"])
        response.close()
    raise FactError([Problem(url, 0, f"more than {policy.max_redirects} redirects")])


def check_address(url: str, policy: HttpPolicy) -> None:
    reason = netguard.refusal(url, policy.allow_hosts)
    if reason:
        raise FactError([Problem(url, 0, reason.replace("URLs are", "fact sources are"))])


def _get(session: requests.Session, url: str, policy: HttpPolicy) -> requests.Response:
    timeout = (policy.connect_timeout, policy.read_timeout)
    try:
        response = session.get(url, timeout=timeout, allow_redirects=False, stream=True)
    except requests.Timeout:
        raise FactError([Problem(url, 0, f"no answer within {policy.read_timeout:g} s")]) from None
    except requests.RequestException as exc:
        raise FactError([Problem(url, 0, f"request failed: {type(exc).__name__}")]) from None
    if response.status_code >= 400:
        response.close()
        raise FactError([Problem(url, 0, f"the server answered HTTP {response.status_code}")])
    return response


def _body(url: str, response: requests.Response, policy: HttpPolicy) -> bytes:
    """Read at most max_bytes, refusing early when the declared length is already too big."""
    too_big = FactError([Problem(url, 0, f"the response is larger than {policy.max_bytes} bytes")])
    if int(response.headers.get("content-length") or 0) > policy.max_bytes:
        raise too_big
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(65536):
            size += len(chunk)
            if size > policy.max_bytes:
                raise too_big
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise FactError([Problem(url, 0, f"reading the response failed: {type(exc).__name__}")]) from None
    finally:
        response.close()
    return b"".join(chunks)
