"""CSRF protection: one random token per session (the login page's anonymous session too).

Every request that is not GET, HEAD or OPTIONS, from a logged-in session or to /login, must send it
back, in the form field `csrf_token` or the header `X-CSRF-Token`, or it gets 403. Calls with an API
token (`Authorization: Bearer`) need none: a browser never adds that header to a forged request.
Anyone else is left to the login check, which answers 401 or sends them to /login.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from .auth import Forbidden, bearer_token

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FIELD, HEADER, KEY = "csrf_token", "x-csrf-token", "csrf"
LOGIN = "/login"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def token(request: Request) -> str:
    """This session's token, made on first use."""
    if not isinstance(request.session.get(KEY), str):
        request.session[KEY] = secrets.token_urlsafe(32)
    return str(request.session[KEY])


def renew(request: Request) -> str:
    """A fresh token (at login: a token seen before it must not outlive it)."""
    request.session[KEY] = secrets.token_urlsafe(32)
    return str(request.session[KEY])


async def require_token(request: Request) -> None:
    """The app-wide dependency: a state-changing request without the session's token is refused."""
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    if "user" not in request.session and request.url.path != LOGIN:
        return  # no one is logged in: every route but the login refuses the request anyway
    expected = request.session.get(KEY)
    given = request.headers.get(HEADER) or await _form_field(request)
    if not (isinstance(expected, str) and given and hmac.compare_digest(expected.encode(), given.encode())):
        raise Forbidden("the CSRF token is missing or out of date: reload the page and try again")


async def _form_field(request: Request) -> str | None:
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return None
    value = (await request.form()).get(FIELD)
    return value if isinstance(value, str) else None
