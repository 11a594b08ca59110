"""Driver: the `shortline` command. Thin: it parses, calls the library, and turns errors into exit codes.

Exit codes: 0 all good, 1 some items failed, 2 a config, input or usage error.
Heavy modules are imported inside the commands so that `shortline --help` stays instant.
One module per command group; each registers its commands on `main` when imported below.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..flow import Runtime

F = TypeVar("F", bound=Callable[..., Any])
OK, ITEMS_FAILED, CONFIG_ERROR = 0, 1, 2


def handles_errors(command: F) -> F:
    """Translate the library's exceptions into a message on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..errors import InvalidTransition, LocatedError, PipelineError, PublishError

        try:
            return command(*args, **kwargs)
        except (InvalidTransition, PublishError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ITEMS_FAILED)
        except LocatedError as exc:
            click.echo(str(exc), err=True)  # already `file:line: problem`, one per line
            sys.exit(CONFIG_ERROR)
        except PipelineError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(CONFIG_ERROR)

    return wrapper  # type: ignore[return-value]


def runtime(ctx: click.Context) -> Runtime:
    """The project of `--project`, loaded with the system clock."""
    from ..clock import SystemClock
    from ..config import Project
    from ..flow import Runtime

    return Runtime.load(Project(ctx.obj["project"]), SystemClock())


def project_file(ctx: click.Context, path: Path) -> Path:
    """A path as given, or else relative to the project."""
    in_project = ctx.obj["project"] / path
    return in_project if not path.exists() and in_project.exists() else path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project folder (holds schedule.yaml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def main(ctx: click.Context, project: Path, verbose: bool) -> None:
    """Shortline: facts become short-line posts and cards, queued for editors, published unattended.

    \b
    Example:
      shortline check
      shortline generate shenyang-profile --dry-run --json
      shortline run
    """
    ctx.obj = {"project": project}
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines at every start say nothing to a user


# Last, once `main` exists: importing a command module registers its commands.
from . import channels, check, doctor, queue, queue_review, render, serve, users  # noqa: E402, F401
