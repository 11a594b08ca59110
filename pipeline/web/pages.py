"""Rendering the preview's pages: one autoescaping Jinja2 environment, and what every page is given."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from . import csrf

if TYPE_CHECKING:
    from ..flow import Runtime
    from .auth import User

HERE = Path(__file__).parent
FLASH = "flash"
MessageKind = Literal["error", "notice"]
environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def page(request: Request, template: str, user: User | None, status_code: int = 200, /, **context: Any) -> HTMLResponse:
    """Render a template with `user`, `csrf_token`, `message` (the flash notice unless given) and its
    `message_kind` ("error" for a given message unless the context says otherwise), `tz`, `project`."""
    rt = runtime(request)
    given = context.pop("message", None)
    kind: MessageKind = context.pop("message_kind", None) or ("error" if given else "notice")
    message = given or request.session.pop(FLASH, None)
    common = dict(user=user, csrf_token=csrf.token(request), message=message, message_kind=kind, tz=rt.config.tz)
    html = environment.get_template(template).render(common | {"project": rt.project.root.name} | context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def flash(request: Request, message: str) -> None:
    """A notice for the next page this session sees (after a redirect)."""
    request.session[FLASH] = message
