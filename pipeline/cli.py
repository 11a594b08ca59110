"""Driver: the `shortline` command. Thin: it parses, calls the library, and turns errors into exit codes.

Exit codes: 0 all good, 1 some items failed, 2 a config, input or usage error.
Heavy modules are imported inside the commands so that `shortline --help` stays instant.
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from .flow import Runtime

F = TypeVar("F", bound=Callable[..., Any])
OK, ITEMS_FAILED, CONFIG_ERROR = 0, 1, 2


def handles_errors(command: F) -> F:
    """Translate the library's exceptions into a message on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .errors import InvalidTransition, LocatedError, PipelineError, PublishError

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
    from .clock import SystemClock
    from .config import Project
    from .flow import Runtime

    return Runtime.load(Project(ctx.obj["project"]), SystemClock())


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


@main.command()
@click.pass_context
@handles_errors
def check(ctx: click.Context) -> None:
    """Validate schedule.yaml, templates and facts; print `file:line: problem` for each problem.

    \b
    Example:
      shortline check && echo "all good"
    """
    from .checks import check_project
    from .config import Project

    problems = check_project(Project(ctx.obj["project"]))
    for problem in problems:
        click.echo(str(problem))
    sys.exit(CONFIG_ERROR if problems else OK)


@main.command()
@click.argument("job")
@click.option("--dry-run", is_flag=True, help="Compose and render, but queue nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the channel variants as a JSON array.")
@click.pass_context
@handles_errors
def generate(ctx: click.Context, job: str, dry_run: bool, as_json: bool) -> None:
    """Compose and render JOB's post now (and queue it, unless --dry-run).

    \b
    Example:
      shortline generate shenyang-profile --dry-run --json
    """
    from . import flow

    rt = runtime(ctx)
    if dry_run:
        variants = flow.generate(rt, job)
        payload = [v.to_json() for v in variants]
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2) if as_json else _summary(payload))
        return
    post_id = flow.fire(rt, job, rt.clock.now())
    post = rt.store.post(post_id) if post_id else None
    if as_json:
        click.echo(json.dumps({"post_id": post_id, "status": post.status if post else None}))
    else:
        click.echo(f"queued post {post_id} ({post.status})" if post else "already queued")


def _summary(variants: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['channel']} [{v['lang']}]: {v['text'].splitlines()[0]} ({len(v['cards'])} cards)" for v in variants
    )


@main.group()
def queue() -> None:
    """List and review queued posts."""


@queue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the posts as JSON.")
@click.pass_context
@handles_errors
def queue_list(ctx: click.Context, as_json: bool) -> None:
    """List queued posts, newest first.

    \b
    Example:
      shortline queue list --json
    """
    posts = runtime(ctx).store.posts()
    if as_json:
        click.echo(json.dumps([_post_json(p) for p in posts], ensure_ascii=False, indent=2))
        return
    for post in posts:
        states = ", ".join(f"{d.channel}/{d.variant.lang}:{d.status}" for d in post.deliveries)
        click.echo(f"{post.id:>5}  {post.status:<10} {post.job_id}  {post.fire_time:%Y-%m-%d %H:%M}Z  {states}")


def _post_json(post: Any) -> dict[str, Any]:
    deliveries = [
        {
            "id": d.id,
            "channel": d.channel,
            "lang": d.variant.lang,
            "status": d.status,
            "attempt": d.attempt,
            "due_at": d.due_at.isoformat(),
            "remote_id": d.remote_id,
            "url": d.url,
            "error": d.error,
        }
        for d in post.deliveries
    ]
    return {
        "id": post.id,
        "job_id": post.job_id,
        "fire_time": post.fire_time.isoformat(),
        "status": post.status,
        "title": post.title,
        "deliveries": deliveries,
    }


@queue.command("approve")
@click.argument("post_id", type=int)
@click.pass_context
@handles_errors
def queue_approve(ctx: click.Context, post_id: int) -> None:
    """Approve a post: its deliveries are scheduled.

    \b
    Example:
      shortline queue approve 1
    """
    rt = runtime(ctx)
    rt.store.approve(post_id, "cli", rt.clock.now())
    click.echo(f"post {post_id} approved")


@queue.command("reject")
@click.argument("post_id", type=int)
@click.option("--reason", required=True, help="Why, for the audit trail.")
@click.pass_context
@handles_errors
def queue_reject(ctx: click.Context, post_id: int, reason: str) -> None:
    """Reject a post: its deliveries are cancelled.

    \b
    Example:
      shortline queue reject 1 --reason "figure is outdated"
    """
    rt = runtime(ctx)
    rt.store.reject(post_id, "cli", reason, rt.clock.now())
    click.echo(f"post {post_id} rejected")


@main.command()
@click.option("--due", is_flag=True, required=True, help="Publish every approved delivery that is due.")
@click.pass_context
@handles_errors
def publish(ctx: click.Context, due: bool) -> None:
    """One publishing pass over every approved, due delivery.

    \b
    Example:
      shortline publish --due
    """
    from . import flow

    outcomes = flow.publish_due(runtime(ctx))
    click.echo(", ".join(f"{n} {state}" for state, n in sorted(outcomes.items())) or "nothing due")
    sys.exit(ITEMS_FAILED if outcomes["failed"] or outcomes["unknown"] else OK)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.pass_context
@handles_errors
def run(ctx: click.Context, host: str, port: int) -> None:
    """The unattended main job: scheduler, publishing worker and preview, until Ctrl-C or SIGTERM.

    \b
    Example:
      shortline run        # then open http://127.0.0.1:8765
    """
    from . import scheduler

    # uvicorn re-raises the signal that stopped it once it has shut down; this handler turns that
    # into a clean exit (status 0) after the scheduler has drained, instead of death by signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    rt = runtime(ctx)
    rt.store  # noqa: B018 -- open the queue before any thread needs it
    scheduler.catch_up(rt)
    jobs = scheduler.build(rt)
    jobs.start()
    try:
        _serve(rt, host, port)
    finally:
        jobs.shutdown(wait=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.pass_context
@handles_errors
def serve(ctx: click.Context, host: str, port: int) -> None:
    """The preview alone: review queued posts in a browser.

    \b
    Example:
      shortline serve --port 8765
    """
    _serve(runtime(ctx), host, port)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(OK)


def _serve(rt: Runtime, host: str, port: int) -> None:
    import uvicorn

    from .web.app import create_app

    click.echo(f"preview at http://{host}:{port}", err=True)
    uvicorn.run(create_app(rt), host=host, port=port, log_level="warning")
