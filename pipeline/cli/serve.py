"""The long-running commands: `shortline run` (scheduler, worker and preview), `serve` (the preview),
`worker` (publishing only) and `publish --due` (one publishing pass)."""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING

import click

from . import ITEMS_FAILED, OK, handles_errors, main, runtime

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from ..flow import Runtime


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
    from .. import flow

    outcomes = flow.publish_due(runtime(ctx))
    click.echo(", ".join(f"{n} {state}" for state, n in sorted(outcomes.items())) or "nothing due")
    sys.exit(ITEMS_FAILED if outcomes["failed"] or outcomes["unknown"] else OK)


@main.command()
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="Seconds between passes."
)
@click.option("--once", is_flag=True, help="One pass, then exit (status 1 if a delivery failed or is unknown).")
@click.pass_context
@handles_errors
def worker(ctx: click.Context, interval: float, once: bool) -> None:
    """Publishing workers only (no scheduler, no preview): a pass over the due deliveries every
    --interval seconds, until Ctrl-C or SIGTERM, which stop it after the delivery in flight.

    Several machines can run it on one PostgreSQL database (SHORTLINE_DATABASE_URL): each delivery
    goes to one of them, under a lease that the others recover if its worker dies.

    \b
    Example:
      SHORTLINE_DATABASE_URL=postgresql+psycopg://shortline@db.internal/shortline shortline worker
      shortline worker --once
    """
    from .. import workers

    outcomes = workers.run(workers.build(runtime(ctx)), interval, once)
    click.echo(workers.summary(outcomes))
    sys.exit(ITEMS_FAILED if once and (outcomes["failed"] or outcomes["unknown"]) else OK)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, help="Port to listen on.")
@click.pass_context
@handles_errors
def run(ctx: click.Context, host: str, port: int) -> None:
    """The unattended main job: scheduler, publishing worker and preview, until Ctrl-C or SIGTERM.

    schedule.yaml is reloaded when it changes and on SIGHUP; a version with problems is refused
    (each logged as file:line) and the one in force kept.

    \b
    Example:
      shortline run        # then open http://127.0.0.1:8765
      kill -HUP <pid>      # reload schedule.yaml now
    """
    # uvicorn re-raises the signal that stopped it once it has shut down; this handler turns that
    # into a clean exit (status 0) after the scheduler has drained, instead of death by signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    rt = runtime(ctx)
    rt.store  # noqa: B018 -- open the queue before any thread needs it
    jobs = _start_scheduler(rt)
    try:
        _serve(rt, host, port)
    finally:
        jobs.shutdown(wait=True)


def _start_scheduler(rt: Runtime) -> BackgroundScheduler:
    """Settle the fires missed while stopped, start the jobs, and reload schedule.yaml on SIGHUP."""
    from .. import reload, scheduler

    scheduler.catch_up(rt)
    jobs = scheduler.build(rt)
    signal.signal(signal.SIGHUP, reload.watch(rt, jobs).on_signal)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # its lines for every 2-second run; -v shows them
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    jobs.start()
    return jobs


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

    from ..web.app import create_app

    click.echo(f"preview at http://{host}:{port}", err=True)
    uvicorn.run(create_app(rt), host=host, port=port, log_level="warning")
