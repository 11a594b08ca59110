"""`shortline queue`: list, show, add and import queued posts (the review commands are in queue_review)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import handles_errors, main, project_file, runtime
from .queue_views import audit_json, edit_json, post_json, post_lines


@main.group()
@click.option("--as", "actor", metavar="NAME", help="Who acts, for the audit trail.  [default: your login name]")
@click.pass_context
def queue(ctx: click.Context, actor: str | None) -> None:
    """List, add, import and review queued posts; settle deliveries that failed or may have gone out."""
    ctx.obj["actor"] = actor


def actor_of(ctx: click.Context) -> str:
    """Who acts, for the audit trail: `queue --as NAME`, else the login name."""
    import getpass

    if ctx.obj.get("actor"):
        return str(ctx.obj["actor"])
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment
        return "cli"


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
        click.echo(json.dumps([post_json(p) for p in posts], ensure_ascii=False, indent=2))
        return
    for post in posts:
        states = ", ".join(f"{d.channel}/{d.variant.lang}:{d.status}" for d in post.deliveries)
        click.echo(f"{post.id:>5}  {post.status:<10} {post.job_id}  {post.fire_time:%Y-%m-%d %H:%M}Z  {states}")


@queue.command("show")
@click.argument("post_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the post, its audit trail and edits as JSON.")
@click.pass_context
@handles_errors
def queue_show(ctx: click.Context, post_id: int, as_json: bool) -> None:
    """One post: each delivery's state, due time (project time zone), error and URL; the audit
    trail; the edits, as diffs.

    \b
    Example:
      shortline queue show 1
    """
    from .. import review

    rt = runtime(ctx)
    post, trail, edits = rt.store.post(post_id), rt.store.audit_trail(post_id), review.edits(rt, post_id)
    if as_json:
        data = post_json(post) | {"audit": [audit_json(e) for e in trail], "edits": [edit_json(e) for e in edits]}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo("\n".join(post_lines(post, trail, edits, rt.config.tz)))


@queue.command("add")
@click.option("--job", help="Compose this job's post (from its facts, or --facts FILE).")
@click.option("--facts", "facts_file", type=click.Path(dir_okay=False, path_type=Path), help="Facts for --job.")
@click.option("--text", help="The post's own text instead (blank lines between paragraphs); needs --lang.")
@click.option(
    "--image", "images", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help="An image file."
)
@click.option("--channel", "channels", multiple=True, help="A channel (repeatable).  [default: all that fit]")
@click.option("--at", "at", metavar="TIME", help='Publish at, project time zone: "2026-12-01 09:00".  [default: now]')
@click.option("--lang", type=click.Choice(["en", "zh"]), help="The text's language (with --job: only this one).")
@click.option("--approve", is_flag=True, help="Skip review: schedule it at once.")
@click.pass_context
@handles_errors
def queue_add(
    ctx: click.Context, job: str | None, facts_file: Path | None, text: str | None, images: tuple[Path, ...],
    channels: tuple[str, ...], at: str | None, lang: str | None, approve: bool,
) -> None:  # fmt: skip
    """Queue a post by hand: JOB's post composed now, or your own --text with --image files, to each
    --channel (default: the job's channels, or every channel that publishes --lang). Every text is
    counted against its channel's limit, every image checked against its channel's.

    \b
    Example:
      shortline queue add --job shenyang-profile --at "2026-12-01 09:00"
      shortline queue add --text "Shenyang welcomes you" --lang en --image card.png --channel outbox --approve
    """
    from .. import queueing

    rt = runtime(ctx)
    when = queueing.local_time(at, rt.config.tz) if at else None
    facts_path = project_file(ctx, facts_file) if facts_file else None
    files = tuple(project_file(ctx, image) for image in images)
    request = queueing.Request(when, job, facts_path, text, lang, channels, files, approve)
    post_id = queueing.add(rt, request, actor_of(ctx))
    click.echo(f"queued post {post_id} ({rt.store.post(post_id).status})")


@queue.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and print what would be queued; queue nothing.")
@click.pass_context
@handles_errors
def queue_import(ctx: click.Context, csv_file: Path, dry_run: bool) -> None:
    """Queue the posts of a CSV file, one row a post. Every row is checked first; with any problem
    (each named file:line: column: what was expected) nothing is queued and the exit status is 2.

    \b
    The header names some of these columns, in any order:
      at        when to publish, project time zone: 2026-12-01 09:00 (required)
      channels  channel names separated by spaces or ';' (default: the job's, or all that publish lang)
      lang      en or zh (required with text; with a job, only that language's variants)
      text      the post's own text; or leave it empty and name a job
      images    image files separated by ';', relative to the CSV file's folder (or the project)
      job       a job of schedule.yaml whose post is composed from its facts
      facts     a fact file the job's post is composed from instead (relative like images)
      approve   yes to skip review (default: no)

    \b
    Example:
      shortline queue import december.csv --dry-run && shortline queue import december.csv
    """
    from .. import queueing

    rt = runtime(ctx)
    planned = queueing.read(rt, csv_file)
    for line, post in planned:
        if dry_run:
            click.echo(f"line {line}: would queue {queueing.describe(post, rt.config.tz)}")
        else:
            click.echo(f"line {line}: queued post {queueing.enqueue(rt, post, actor_of(ctx))}")
