"""Outgoing requests go only to public addresses, unless the configuration names the host."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit


def refusal(url: str, allow_hosts: Collection[str] = ()) -> str | None:
    """Why a request to this URL is refused (scheme, unresolvable or non-public host), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "only http:// and https:// URLs are allowed"
    if parts.hostname in allow_hosts:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        return f"cannot resolve {parts.hostname}: {exc.strerror}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"{parts.hostname} resolves to the non-public address {address}; allow the host explicitly"
    return None
