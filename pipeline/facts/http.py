"""Facts from an HTTP JSON source, fetched defensively.

Only http and https; connect and read timeouts; a cap on the body size, enforced while reading;
and no request to a private, loopback, link-local or otherwise non-global address, checked for
the first URL and for every redirect, unless the configuration names the host as allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from .. import yamldoc
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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FactError([Problem(url, 0, "only http:// and https:// fact sources are allowed")])
    if parts.hostname in policy.allow_hosts:
        return
    for address in _addresses(url, parts.hostname):
        if not address.is_global or address.is_multicast:
            message = f"{parts.hostname} resolves to the non-public address {address}; allow the host explicitly"
            raise FactError([Problem(url, 0, message)])


def _addresses(url: str, host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FactError([Problem(url, 0, f"cannot resolve {host}: {exc.strerror}")]) from None
    return {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}


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
