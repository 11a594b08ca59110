"""`shortline users`: the preview's users (schedule.yaml `users:`)."""

from __future__ import annotations

import click

from . import main


@main.group()
def users() -> None:
    """Users of the preview (schedule.yaml `users:`)."""


@users.command("hash")
@click.password_option("--password", prompt="Password", help="Asked for when not given (better: not in shell history).")
def users_hash(password: str) -> None:
    """Print an argon2 hash of a password, for a user's `password_hash` in schedule.yaml (or the
    environment variable it names). The password itself is never stored.

    \b
    Example:
      shortline users hash
      # schedule.yaml:  users: {alice: {role: editor, password_hash: "${SHORTLINE_PW_ALICE}"}}
    """
    from ..web.auth import hash_password

    click.echo(hash_password(password))
