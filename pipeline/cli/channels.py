"""`shortline channels`: check the publishing channels' credentials, resume paused ones."""

from __future__ import annotations

import sys

import click

from . import ITEMS_FAILED, OK, handles_errors, main, runtime


@main.group()
def channels() -> None:
    """Check the publishing channels and resume paused ones."""


@channels.command("check")
@click.pass_context
@handles_errors
def channels_check(ctx: click.Context) -> None:
    """Verify each channel's credentials, limits and quota without posting anything.

    Exit status 1 when a channel whose credentials are set does not work.

    \b
    Example:
      shortline channels check
    """
    from .. import flow

    reports = flow.check_channels(runtime(ctx))
    for report in reports:
        state = "skipped" if report.skipped else "ok" if report.ok else "FAILED"
        click.echo(f"{report.channel:<12} {state:<8} {report.detail}")
        if report.limits or report.quota:
            limits = ", ".join(f"{key} {value:,}" for key, value in report.limits.items())
            click.echo(f"{'':<21} limits: {limits or '-'}; quota: {report.quota or '-'}")
    sys.exit(ITEMS_FAILED if any(not r.ok and not r.skipped for r in reports) else OK)


@channels.command("resume")
@click.argument("channel")
@click.pass_context
@handles_errors
def channels_resume(ctx: click.Context, channel: str) -> None:
    """Resume a channel paused after its credentials were refused; its waiting deliveries go out.

    \b
    Example:
      shortline channels resume mastodon
    """
    resumed = runtime(ctx).store.resume(channel)
    click.echo(f"channel {channel} resumed" if resumed else f"channel {channel} was not paused")
