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
    from .config import Project
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
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines at every start say nothing to a user


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


def _card_size(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """--size WxH in pixels, such as 1080x1350."""
    if value is None:
        return None
    width, _, height = value.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and 16 <= int(width) <= 8192 and 16 <= int(height) <= 8192):
        raise click.BadParameter(f"{value!r} is not a size like 1080x1350 (16 to 8192 pixels a side)")
    return int(width), int(height)


@main.command()
@click.argument("template", required=False)
@click.option("--facts", "facts_file", type=click.Path(dir_okay=False, path_type=Path), help="The fact file.")
@click.option(
    "--size", metavar="WxH", callback=_card_size, help="Card size in pixels.  [default: 1080x1350, or the --channel's]"
)
@click.option("--lang", type=click.Choice(["en", "zh"]), help="Language.  [default: en]")
@click.option("--channel", metavar="TYPE", help="Take size, format and budget from this channel type (wechat, x, ...).")
@click.option(
    "--format", "image_format", type=click.Choice(["png", "jpeg", "webp"]), help="[default: from -o, else png]"
)
@click.option("--budget", type=click.IntRange(min=1), help="At most this many bytes (JPEG/WebP search quality).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to var/media.")
@click.option("--job", help="Render every card of JOB instead, at every size and format its channels need.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes for --job.  [default: one per usable CPU]")
@click.pass_context
@handles_errors
def render(
    ctx: click.Context,
    template: str | None,
    facts_file: Path | None,
    size: tuple[int, int] | None,
    lang: str | None,
    channel: str | None,
    image_format: str | None,
    budget: int | None,
    output: Path | None,
    job: str | None,
    workers: int | None,
) -> None:
    """Render one card TEMPLATE (a file, or a name under templates/cards/) with the facts of FILE,
    and print its path, size and alt text; or, with --job, every card of a job.

    Without -o the card goes to var/media/ under its content hash, as the pipeline stores it.
    With --job: each of the job's card templates, in each language its channels publish, at each
    size, format and byte budget they take, on every CPU (--workers), one line a card; exit 1 if
    some card could not be made.

    \b
    Example:
      shortline render stat --facts facts/shenyang.yaml --lang zh --size 900x383 -o cover.png
      shortline render cards/stat.yaml --facts facts/shenyang.yaml --channel wechat
      shortline render --job shenyang-profile
    """
    from .render.fonts import require_raqm

    require_raqm()  # before any work: the message says what to install
    if job is not None:
        given: dict[str, object] = {"TEMPLATE": template, "--facts": facts_file, "--size": size, "--lang": lang}
        given |= {"--channel": channel, "--format": image_format, "--budget": budget, "-o": output}
        extra = [name for name, value in given.items() if value is not None]
        if extra:
            raise click.UsageError(f"--job renders the job's own cards; drop {', '.join(extra)}")
        _render_job(ctx, job, workers)
        return
    if template is None or facts_file is None:
        raise click.UsageError("give a card TEMPLATE and --facts FILE, or --job JOB")
    _render_one(ctx.obj["project"], template, facts_file, lang or "en", size, channel, image_format, budget, output)


def _render_one(
    root: Path,
    name: str,
    facts_file: Path,
    lang: str,
    size: tuple[int, int] | None,
    channel: str | None,
    image_format: str | None,
    budget: int | None,
    output: Path | None,
) -> None:
    from . import compose, facts, render, templating
    from .compose.channels import SPECS
    from .config import Project
    from .render.encode import check_format, format_for_suffix

    project = Project(root)
    if channel is not None and channel not in SPECS:
        raise click.BadParameter(f"{channel!r} is not a channel type ({', '.join(SPECS)})", param_hint="'--channel'")
    spec = SPECS[channel] if channel else None
    wanted = format_for_suffix(output.suffix) if output else None
    if image_format and wanted and image_format != wanted:
        raise click.UsageError(f"-o {output} is a {wanted} file name, but --format is {image_format}")
    fmt = check_format(image_format or wanted or (spec.card_format if spec else "png"))
    budget = budget if budget is not None or spec is None else spec.card_budget
    size = size or (spec.card_size if spec else (1080, 1350))
    template = render.load_card_template(_card_template(project, name))
    in_project = root / facts_file  # a path relative to the project also works
    fact_set = facts.load(in_project if not facts_file.exists() and in_project.exists() else facts_file)
    env = templating.environment(project.templates.resolve())
    encoded, alt = render.encode_card(template, compose.context(fact_set, lang), size, env, fmt, budget)
    if output is None:
        path = render.save_card(encoded, alt, project.media).path
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(encoded.data)
        path = output
    how = f", quality {encoded.quality}" if encoded.quality is not None else ""
    within = f", budget {budget:,}" if budget is not None else ""
    scaled = f" (made smaller than {size[0]}x{size[1]} to fit the budget)" if encoded.size != size else ""
    click.echo(str(path))
    click.echo(f"{encoded.size[0]}x{encoded.size[1]} {fmt.upper()}, {len(encoded.data):,} bytes{how}{within}{scaled}")
    click.echo(f"alt: {alt}")


def _card_template(project: Project, name: str) -> Path:
    """A card template by path, by path under templates/, or by name under templates/cards/."""
    from .errors import ConfigError, Problem

    cards = project.templates / "cards"
    for candidate in (Path(name), project.templates / name, cards / name, cards / f"{name}.yaml"):
        if candidate.is_file():
            return Path(candidate)
    known = ", ".join(sorted(path.stem for path in cards.glob("*.yaml"))) or "none"
    raise ConfigError([Problem(name, 0, f"no such card template (a file, or a name in {cards}: {known})")])


def _render_job(ctx: click.Context, job_id: str, workers: int | None) -> None:
    from .render import batch

    rt = runtime(ctx)
    tasks, fact_set = batch.plan(rt, job_id)
    if sys.stderr.isatty():
        with click.progressbar(length=len(tasks), label="rendering cards", file=sys.stderr) as bar:
            results = batch.render_all(rt, tasks, fact_set, workers, progress=bar.update)
    else:
        results = batch.render_all(rt, tasks, fact_set, workers)
    # one line a file (budgets that gave the same bytes share it), or a problem (once for all its formats)
    channels: dict[tuple[object, ...], list[str]] = {}
    for result in results:
        channels.setdefault((result.task, result.card or result.error), []).extend(result.target.channels)
    for result in results:
        task, target = result.task, result.target
        names = channels.pop((task, result.card or result.error), None)
        if names is None:
            continue
        head = f"{task.name}  {task.lang}  {f'{task.size[0]}x{task.size[1]}':<9}"
        if result.card is None:
            click.echo(f"{head}  error: {result.error} (for {', '.join(names)})", err=True)
            continue
        quality = f"q{result.quality}" if result.quality is not None else "lossless"
        card = f"{target.format:<4}  {result.bytes:>9,} B  {quality:<8}  {result.card.path}"
        click.echo(f"{head}  {card}  ({', '.join(names)})")
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(CONFIG_ERROR if any(r.located for r in failed) else ITEMS_FAILED)


@main.command()
@handles_errors
def doctor() -> None:
    """Check what cards need: Pillow with libraqm (FriBiDi, HarfBuzz), the image codecs, and each
    font file with its licence. Exit 2, saying what is missing, when cards cannot be made here.

    \b
    Example:
      shortline doctor
    """
    import PIL
    from PIL import features

    from .compose.channels import SPECS
    from .render import fonts

    problems = []
    click.echo(f"Pillow {PIL.__version__}")
    codec = {"png": "zlib", "jpeg": "jpg", "webp": "webp"}
    required = {"raqm", "freetype2", *(codec[spec.card_format] for spec in SPECS.values())}
    for name, what in [
        ("raqm", "text layout and language"),
        ("fribidi", "bidirectional text, for raqm"),
        ("harfbuzz", "text shaping, for raqm"),
        ("freetype2", "fonts"),
        ("zlib", "PNG cards"),
        ("jpg", "JPEG cards"),
        ("webp", "WebP cards"),
    ]:
        found = bool(features.check(name))
        version = (features.version(name) or "") if found else ""
        need = "required" if name in required else "optional"
        click.echo(f"  {name:<10} {'yes' if found else 'NO':<4} {version:<10} {what} ({need})")
        if not found and name in required:
            problems.append(_missing(name, what))
    click.echo(f"Fonts in {fonts.FONT_DIR}:")
    licences = sorted(fonts.FONT_DIR.glob("OFL-*.txt"))
    for face in sorted({*fonts.LATIN.values(), *fonts.CHINESE.values(), fonts.EMOJI}):
        path = fonts.FONT_DIR / face
        licence = next((p for p in licences if face.startswith(p.stem.removeprefix("OFL-"))), None)
        title = _licence_title(licence) if licence else "NO LICENCE FILE"
        size = f"{path.stat().st_size:>10,} B" if path.is_file() else "   MISSING  "
        click.echo(f"  {face:<26} {size}  {title}{f' ({licence.name})' if licence else ''}")
        if not path.is_file():
            problems.append(f"font {path} is missing (see assets/fonts/README.md to rebuild it)")
        if licence is None:
            problems.append(f"font {face} has no licence file (OFL-<family>.txt) in {fonts.FONT_DIR}")
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    sys.exit(CONFIG_ERROR if problems else OK)


def _missing(name: str, what: str) -> str:
    if name == "raqm":
        from .errors import RenderError
        from .render.fonts import require_raqm

        try:
            require_raqm()
        except RenderError as exc:
            return str(exc)  # what to install, word for word as rendering says it
    return f"Pillow was built without {name}, which cards need for {what}"


def _licence_title(path: Path) -> str:
    """The line that names the licence, such as `SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007`."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return next((line.strip() for line in lines if "LICENSE" in line.upper()), lines[0].strip() if lines else "")


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
    from . import flow

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
    from . import workers

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
