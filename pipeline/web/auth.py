"""Who may use the preview, and as what: viewer (reads), editor (reviews), admin (editor + users).

Users come from schedule.yaml's `users:` with argon2 password hashes (`shortline users hash` makes
one) and, for the JSON API, `Authorization: Bearer` tokens read from the environment. A project
without users gets one local admin whose password is kept in var/admin-password (mode 0600), so a
fresh `shortline run` can be used at once without a password ever being printed or logged.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, get_args

import argon2
from fastapi import Depends, Request

from .. import config
from ..errors import ConfigError, Problem
from ..yamldoc import load as load_yaml

if TYPE_CHECKING:
    from ..flow import Runtime

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
LOCAL_ADMIN = "admin"
HASHER = argon2.PasswordHasher()  # argon2id, RFC 9106's low-memory profile
log = logging.getLogger(__name__)


class LoginRequired(Exception):
    """No valid session or API token: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """Known user, not allowed (a viewer's action, a missing CSRF token): 403."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Account:
    user: User
    password_hash: str | None
    api_token: str | None


class Users:
    """The accounts the preview accepts; every check runs in constant time for its input."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts = {account.user.name: account for account in accounts}

    def login(self, name: str, password: str) -> User | None:
        account = self.accounts.get(name)
        if account is None or account.password_hash is None:
            _verify(_dummy_hash(), password)  # as slow as a wrong password: the answer does not tell names
            return None
        return account.user if _verify(account.password_hash, password) else None

    def named(self, name: object) -> User | None:
        account = self.accounts.get(name) if isinstance(name, str) else None
        return account.user if account else None

    def bearer(self, token: str) -> User | None:
        found = None
        for account in self.accounts.values():
            if account.api_token and hmac.compare_digest(account.api_token.encode(), token.encode()):
                found = account.user
        return found


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the name is unknown, so that the answer takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


# -- building the accounts --------------------------------------------------------------------


def load_users(rt: Runtime) -> Users:
    if not rt.config.users:
        return Users([local_admin(rt.project.var / "admin-password", rt.project.schedule)])
    return Users(_account(rt, name, user) for name, user in rt.config.users.items())


def _account(rt: Runtime, name: str, user: config.UserConfig) -> Account:
    password_hash = config.resolve(user.password_hash) if user.password_hash else None
    token = config.resolve(user.api_token) if user.api_token else None
    for key, ref, value in (("password_hash", user.password_hash, password_hash), ("api_token", user.api_token, token)):
        if ref and value is None:
            log.warning("user %s: %s is unset, so %s cannot be used", name, ref.strip("${}"), key)
    if password_hash and not _is_hash(password_hash):
        line = load_yaml(rt.project.schedule, ConfigError).line_of(("users", name, "password_hash"))
        message = f"users.{name}.password_hash: {user.password_hash} is not an argon2 hash (`shortline users hash`)"
        raise ConfigError([Problem(str(rt.project.schedule), line, message)])
    return Account(User(name, user.role), password_hash, token)


def _is_hash(value: str) -> bool:
    try:
        argon2.extract_parameters(value)
    except argon2.exceptions.InvalidHashError:
        return False
    return True


def local_admin(path: Path, schedule: Path) -> Account:
    """The admin of a project without users; the password stays in a file only its owner can read."""
    if not path.exists():
        new_password_file(path)
    log.warning("no users in %s: log in as %r with the password in %s", schedule, LOCAL_ADMIN, path)
    return Account(User(LOCAL_ADMIN, "admin"), hash_password(path.read_text().strip()), None)


def new_password_file(path: Path) -> None:
    """A new password at `path`, written whole before it appears there: a process starting at the same
    moment (two `shortline run` on one project) finds no file or a whole one, and the first one stands."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(secrets.token_urlsafe(18) + "\n")
    try:
        os.link(draft, path)  # fails if the file exists, never replaces it
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def users(request: Request) -> Users:
    """The users of the configuration in force: `shortline run` reloads schedule.yaml when it changes."""
    state = request.app.state
    if state.users_of is not state.rt.config.users:
        try:
            state.users = load_users(state.rt)
        except ConfigError as exc:
            log.error("the users of the new schedule.yaml are refused, the old ones stay: %s", exc)
        state.users_of = state.rt.config.users
    found: Users = state.users
    return found


def session_secret(rt: Runtime) -> str:
    """The key that signs session cookies; a random one (sessions end with the process) when unset."""
    secret = config.resolve(rt.config.web.session_secret)
    if not secret:
        name = rt.config.web.session_secret.strip("${}")
        log.warning("%s is unset: a random key signs the sessions, which end with this process", name)
        return secrets.token_urlsafe(32)
    return secret


# -- request dependencies ---------------------------------------------------------------------


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def current_user(request: Request) -> User:
    known, token = users(request), bearer_token(request)
    if token is not None:
        user = known.bearer(token)
    elif "authorization" in request.headers:
        user = None  # another scheme: refused, never mistaken for the session
    else:
        user = known.named(request.session.get("user"))
    if user is None:
        raise LoginRequired()
    return user


def editor(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.can("editor"):
        raise Forbidden(f"{user.name} is a {user.role}: only editors and admins may change posts")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
Editor = Annotated[User, Depends(editor)]
