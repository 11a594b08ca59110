"""The `shortline queue` commands that act on a queued post or delivery: approve, reject, edit,
reschedule, cancel, retry and resolve; the audit trail records who acted (`queue --as`)."""

from __future__ import annotations

from typing import IO

import click

from . import handles_errors, runtime
from .queue import actor_of, queue


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
    from .. import review

    review.approve(runtime(ctx), post_id, actor_of(ctx))
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
    from .. import review

    review.reject(runtime(ctx), post_id, actor_of(ctx), reason)
    click.echo(f"post {post_id} rejected")


@queue.command("cancel")
@click.argument("post_id", type=int)
@click.option("--reason", required=True, help="Why, for the audit trail.")
@click.pass_context
@handles_errors
def queue_cancel(ctx: click.Context, post_id: int, reason: str) -> None:
    """Cancel every delivery of a post that has not been sent.

    \b
    Example:
      shortline queue cancel 1 --reason "event postponed"
    """
    from .. import review

    review.cancel(runtime(ctx), post_id, actor_of(ctx), reason)
    click.echo(f"post {post_id} cancelled")


@queue.command("retry")
@click.argument("delivery_id", type=int)
@click.pass_context
@handles_errors
def queue_retry(ctx: click.Context, delivery_id: int) -> None:
    """Schedule a failed delivery again, due now.

    \b
    Example:
      shortline queue retry 7
    """
    from .. import review

    review.retry(runtime(ctx), delivery_id, actor_of(ctx))
    click.echo(f"delivery {delivery_id} scheduled again")


@queue.command("reschedule")
@click.argument("post_id", type=int)
@click.option("--at", "at", metavar="TIME", required=True, help='Project time zone: "2026-12-01 09:00".')
@click.option("--channel", help="Only this channel's deliveries.")
@click.pass_context
@handles_errors
def queue_reschedule(ctx: click.Context, post_id: int, at: str, channel: str | None) -> None:
    """Move a post's deliveries not yet sent (of one --channel) to another time.

    \b
    Example:
      shortline queue reschedule 1 --at "2026-12-02 09:00" --channel weibo
    """
    from .. import queueing, review

    rt = runtime(ctx)
    review.reschedule(rt, post_id, queueing.local_time(at, rt.config.tz), actor_of(ctx), channel)
    click.echo(f"post {post_id} rescheduled to {at} ({rt.config.timezone})")


@queue.command("edit")
@click.argument("post_id", type=int)
@click.option("--channel", required=True, help="The channel whose text changes.")
@click.option("--lang", required=True, type=click.Choice(["en", "zh"]), help="Its language.")
@click.option("--text", help="The new text.")
@click.option("--file", "text_file", type=click.File(encoding="utf-8"), help="The new text, from a file ('-': stdin).")
@click.pass_context
@handles_errors
def queue_edit(
    ctx: click.Context, post_id: int, channel: str, lang: str, text: str | None, text_file: IO[str] | None
) -> None:  # fmt: skip
    """Replace one channel variant's text. It is counted against the channel's limit and every number
    in it must come from the post's facts; an approved post goes back to review. Prints the diff.

    \b
    Example:
      shortline queue edit 1 --channel weibo --lang zh --file weibo.txt
    """
    from .. import review

    new = _new_text(text, text_file)
    edit = review.edit(runtime(ctx), post_id, channel, lang, new, actor_of(ctx))
    click.echo("\n".join(edit.diff))


def _new_text(text: str | None, text_file: IO[str] | None) -> str:
    if text is not None and text_file is None:
        return text
    if text is None and text_file is not None:
        return text_file.read()
    raise click.UsageError("give the new text with --text or --file (one of them)")


@queue.command("resolve")
@click.argument("delivery_id", type=int)
@click.option("--url", help="Where you found it published.")
@click.option("--publish-again", is_flag=True, help="It did not go out: publish it again, now.")
@click.pass_context
@handles_errors
def queue_resolve(ctx: click.Context, delivery_id: int, url: str | None, publish_again: bool) -> None:
    """Settle a delivery whose outcome is unknown (it may have gone out): published at --url, or
    --publish-again after you checked that it did not.

    \b
    Example:
      shortline queue resolve 7 --url https://weibo.com/1234/abcd
    """
    from .. import review

    if (url is None) == (not publish_again):
        raise click.UsageError("give --url URL or --publish-again (one of them)")
    review.resolve(runtime(ctx), delivery_id, actor_of(ctx), url=url, publish_again=publish_again)
    click.echo(f"delivery {delivery_id} {'published' if url else 'scheduled again'}")
