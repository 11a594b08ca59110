"""Driver: the editors' preview, and its JSON twin under /api/ (api.py), on one FastAPI app.

Pages are rendered on the server (Jinja2, every text escaped) with a little static JavaScript. Every
action is a POST carrying the session's CSRF token (csrf.py) and calls pipeline/review.py; a form
action redirects back to its post, or shows the post again with the reason it was refused. Login is
required everywhere but /login, /static and /openapi.json (auth.py); failed logins are throttled
per name and per address (throttle.py). Security headers go on every response; media are served only
from the store's media folder, by content-hash name.

FastAPI (on the Starlette the pages already used) because its pydantic models make the OpenAPI
document from the code itself, so /openapi.json cannot drift from what the API does; the pages share
the app and its middleware, left out of that document.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__, review
from ..errors import InvalidTransition, NotFound, PipelineError, ReviewError
from ..flow import Runtime
from ..render.encode import MEDIA_TYPES
from . import api, calendar, csrf, postview, queueview
from .auth import CurrentUser, Editor, Forbidden, LoginRequired, User, load_users, session_secret, users
from .pages import HERE, flash, page, runtime
from .throttle import MAX_NAME, LoginThrottle

MEDIA_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")
SESSION_COOKIE, SESSION_AGE = "shortline_session", 12 * 3600
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATUS: dict[type[Exception], int] = {
    Forbidden: 403,
    NotFound: 404,
    InvalidTransition: 409,
    ReviewError: 422,
    PipelineError: 422,  # any other refusal of the input, such as a job's facts that do not load
}
FormText = Annotated[str, Form()]
router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


def create_app(rt: Runtime) -> FastAPI:
    """The preview of this runtime's project, for the users in its schedule.yaml (or its local admin)."""
    app = FastAPI(
        title="Shortline",
        version=__version__,
        description=api.__doc__ or "",
        docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP refuses
        redoc_url=None,
        dependencies=[Depends(csrf.require_token)],
    )
    app.state.rt, app.state.users, app.state.users_of = rt, load_users(rt), rt.config.users
    app.state.throttle = LoginThrottle(rt.clock)
    app.include_router(api.router)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for kind in (LoginRequired, Forbidden, NotFound, PipelineError, HTTPException, RequestValidationError):
        app.add_exception_handler(kind, _refused)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(rt),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_AGE,
        https_only=rt.config.web.secure_cookies,  # SameSite=lax is Starlette's default
    )
    app.add_middleware(SecurityHeaders)
    return app


# -- logging in and out ---------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    return page(request, "login.html", None, next=_local(request.query_params.get("next", "/")))


@router.post("/login")
def login(
    request: Request, name: FormText = "", password: FormText = "", next_url: Annotated[str, Form(alias="next")] = "/"
) -> Response:
    address = request.client.host if request.client else "unknown"
    wait = _throttle(request).admit(name, address)
    if wait is not None:
        return _too_many_failures(request, name, address, wait, next_url)
    user = _checked(request, name, password, address)
    if user is None:
        return page(
            request, "login.html", None, 401, message="Wrong name or password.", next=_local(next_url), name=name
        )
    request.session.clear()  # nothing of the anonymous session carries over, its CSRF token neither
    request.session["user"] = user.name
    csrf.renew(request)
    return RedirectResponse(_local(next_url), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


def _checked(request: Request, name: str, password: str, address: str) -> User | None:
    """The user, if the password is right; the throttle learns the outcome either way."""
    user = None
    try:
        user = users(request).login(name, password)
    finally:
        _throttle(request).settle(name, address, succeeded=user is not None)
    return user


def _too_many_failures(request: Request, name: str, address: str, wait: int, next_url: str) -> Response:
    """429 without checking the password; the log names who and where from, never what was typed as password."""
    shown = name[:MAX_NAME]
    log.warning("login as %r from %s refused: too many failed attempts; the next in %d s", shown, address, wait)
    minutes = math.ceil(wait / 60)
    message = f"Too many failed logins: try again in {minutes} minute{'' if minutes == 1 else 's'}."
    response = page(request, "login.html", None, 429, message=message, next=_local(next_url), name=name)
    response.headers["Retry-After"] = str(wait)
    return response


def _local(target: str) -> str:
    """Only a path on this site (never `//host` or `/\\host`): a login link cannot send anyone away."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


# -- pages ----------------------------------------------------------------------------------------


@router.get("/")
def queue(request: Request, user: CurrentUser) -> Response:
    context = queueview.context(runtime(request), request.query_params)
    return page(request, "queue.html", user, 400 if context["problems"] else 200, **context)


@router.get("/calendar")
def upcoming(request: Request, user: CurrentUser) -> Response:
    context = calendar.context(runtime(request), request.query_params)
    return page(request, "calendar.html", user, 400 if context["problems"] else 200, **context)


@router.get("/posts/{post_id}")
def post(request: Request, user: CurrentUser, post_id: int) -> Response:
    return post_page(request, user, post_id)


def post_page(request: Request, user: User, post_id: int, status_code: int = 200, **extra: Any) -> Response:
    """The post page; `extra` adds to its context (a refusal's `message`, an edit's `draft`)."""
    context = postview.context(runtime(request), post_id)
    return page(request, "post.html", user, status_code, **context | extra)


@router.get("/media/{name}")
def media(request: Request, user: CurrentUser, name: str) -> Response:
    path = runtime(request).project.media / name
    if not MEDIA_NAME.match(name) or not path.is_file():
        raise HTTPException(404, f"no image named {name}")
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}  # content-addressed: never changes
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix[1:]], headers=headers)  # mimetypes may lack .webp


# -- actions --------------------------------------------------------------------------------------


class BadInput(PipelineError):
    """A form field that is missing or malformed: the post page shows why (422)."""


@router.post("/posts/{post_id}/approve")
def approve(request: Request, user: Editor, post_id: int) -> Response:
    return act(request, user, post_id, lambda rt: review.approve(rt, post_id, user.name), "Approved.")


@router.post("/posts/{post_id}/reject")
def reject(request: Request, user: Editor, post_id: int, reason: FormText = "") -> Response:
    def run(rt: Runtime) -> None:
        review.reject(rt, post_id, user.name, _required(reason, "reason"))

    return act(request, user, post_id, run, "Rejected.")


@router.post("/posts/{post_id}/cancel")
def cancel(request: Request, user: Editor, post_id: int, reason: FormText = "") -> Response:
    def run(rt: Runtime) -> None:
        review.cancel(rt, post_id, user.name, _required(reason, "reason"))

    return act(request, user, post_id, run, "Cancelled.")


@router.post("/posts/{post_id}/reschedule")
def reschedule(request: Request, user: Editor, post_id: int, at: FormText = "", channel: FormText = "") -> Response:
    def run(rt: Runtime) -> None:
        review.reschedule(rt, post_id, _local_time(at, rt.config.tz), user.name, channel or None)

    return act(request, user, post_id, run, "Rescheduled.")


@router.post("/posts/{post_id}/variants/{channel}/{lang}/edit")
def edit(request: Request, user: Editor, post_id: int, channel: str, lang: str, text: FormText = "") -> Response:
    typed = text.replace("\r\n", "\n")  # browsers send a textarea's lines with CR LF

    def run(rt: Runtime) -> None:
        review.edit(rt, post_id, channel, lang, _required(typed, "text"), user.name)

    draft = {"channel": channel, "lang": lang, "text": typed}  # a refusal gives it back to its form
    return act(request, user, post_id, run, "Saved: the post is in review again if it was approved.", draft=draft)


@router.post("/posts/{post_id}/rerender")
def rerender(request: Request, user: Editor, post_id: int) -> Response:
    return act(request, user, post_id, lambda rt: review.rerender(rt, post_id, user.name), "Cards drawn again.")


@router.post("/deliveries/{delivery_id}/retry")
def retry(request: Request, user: Editor, delivery_id: int) -> Response:
    post_id = runtime(request).store.delivery_post(delivery_id)
    return act(request, user, post_id, lambda rt: review.retry(rt, delivery_id, user.name), "Scheduled again.")


@router.post("/deliveries/{delivery_id}/resolve")
def resolve(
    request: Request, user: Editor, delivery_id: int, url: FormText = "", publish_again: FormText = ""
) -> Response:
    post_id = runtime(request).store.delivery_post(delivery_id)
    again = publish_again in {"1", "true", "on"}

    def run(rt: Runtime) -> None:
        if bool(url.strip()) == again:
            raise BadInput("give the URL where the post was published, or choose to publish it again")
        review.resolve(rt, delivery_id, user.name, url=url.strip() or None, publish_again=again)

    return act(request, user, post_id, run, "Resolved.")


def act(
    request: Request, user: User, post_id: int, action: Callable[[Runtime], object], notice: str, **refused: Any
) -> Response:
    """Run one review action; then back to the post, or the post again with the reason it was refused
    (as an error) and `refused`, what the page needs to give back the input (an edit's `draft`)."""
    try:
        action(runtime(request))
    except PipelineError as exc:  # refused (NotFound, InvalidTransition, ReviewError, BadInput) or failed
        return post_page(request, user, post_id, _status(exc), message=str(exc), message_kind="error", **refused)
    flash(request, notice)
    return RedirectResponse(f"/posts/{post_id}", status_code=303)


def _required(value: str, name: str) -> str:
    if not value.strip():
        raise BadInput(f"{name}: this field is required")
    return value.strip()


def _local_time(text: str, tz: dt.tzinfo) -> dt.datetime:
    """A local "YYYY-MM-DDTHH:MM" in the project's timezone, as an aware UTC instant."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"at: {text!r} is not a local date and time such as 2026-12-01T09:00") from None
    if moment.tzinfo is not None:
        raise BadInput(f"at: {text!r} has an offset; give the local time in {tz}")
    return moment.replace(tzinfo=tz).astimezone(dt.UTC)


# -- refusals -------------------------------------------------------------------------------------


def _status(exc: Exception) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)


async def _refused(request: Request, exc: Exception) -> Response:
    """Every refusal: JSON `{"detail": ...}` under /api/, a page elsewhere; not logged in: 401 or /login."""
    wants_json = request.url.path.startswith("/api/")
    if isinstance(exc, LoginRequired):
        if wants_json:
            return JSONResponse({"detail": "log in, or send an API token"}, 401, {"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
    if isinstance(exc, RequestValidationError) and wants_json:
        return await request_validation_exception_handler(request, exc)  # FastAPI's: each field's problem
    if wants_json:
        return JSONResponse({"detail": str(getattr(exc, "detail", exc))}, _status(exc))
    user = users(request).named(request.session.get("user"))
    return page(request, "error.html", user, _status(exc), message=_message(exc))


def _message(exc: Exception) -> str:
    if isinstance(exc, RequestValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors())
    return str(getattr(exc, "detail", exc))


class SecurityHeaders:
    """Pure ASGI middleware: every response carries the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's own 500 page is sent from outside every middleware: send ours, with the headers;
            # the error goes on up to be logged by the server
            if not started:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, send_with_headers)
            raise
