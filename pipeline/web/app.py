"""Driver: the editors' preview. Server-rendered pages, every text escaped, actions by POST only."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import NotFound, StoreError
from ..flow import Runtime
from ..render.encode import MEDIA_TYPES

HERE = Path(__file__).parent
MEDIA_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
pages = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


def create_app(rt: Runtime) -> Starlette:
    async def queue(request: Request) -> Response:
        posts = rt.store.posts()
        return _page("queue.html", posts=posts, project=rt.project.root.name, tz=rt.config.tz)

    async def approve(request: Request) -> Response:
        return _act(lambda: rt.store.approve(_post_id(request), "editor", rt.clock.now()))

    async def reject(request: Request) -> Response:
        reason = str((await request.form()).get("reason") or "").strip() or "rejected in the preview"
        return _act(lambda: rt.store.reject(_post_id(request), "editor", reason, rt.clock.now()))

    async def media(request: Request) -> Response:
        name = request.path_params["name"]
        path = rt.project.media / name
        if not MEDIA_NAME.match(name) or not path.is_file():
            return HTMLResponse("not found", status_code=404)
        headers = {"Cache-Control": "public, max-age=31536000, immutable"}
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix[1:]], headers=headers)  # mimetypes may lack .webp

    routes = [
        Route("/", queue),
        Route("/posts/{post_id:int}/approve", approve, methods=["POST"]),
        Route("/posts/{post_id:int}/reject", reject, methods=["POST"]),
        Route("/media/{name}", media),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


class SecurityHeaders:
    """Pure ASGI middleware: every response carries the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def _post_id(request: Request) -> int:
    return int(request.path_params["post_id"])


def _act(action: Callable[[], None]) -> Response:
    try:
        action()
    except NotFound as exc:
        return _page("error.html", status_code=404, message=str(exc))
    except StoreError as exc:
        return _page("error.html", status_code=409, message=str(exc))
    return RedirectResponse("/", status_code=303)


def _page(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(pages.get_template(name).render(**context), status_code=status_code)
