"""`shortline check` and `shortline generate`: validate a project, make a job's post now."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import CONFIG_ERROR, OK, handles_errors, main, runtime


@main.command()
@click.pass_context
@handles_errors
def check(ctx: click.Context) -> None:
    """Validate schedule.yaml, templates and facts; print `file:line: problem` for each problem.

    \b
    Example:
      shortline check && echo "all good"
    """
    from ..checks import check_project
    from ..config import Project

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
    from .. import flow

    rt = runtime(ctx)
    if dry_run:
        payload = [v.to_json() for v in flow.generate(rt, job)]
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
