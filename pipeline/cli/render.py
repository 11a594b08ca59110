"""`shortline render`: one card from a template and a fact file, or every card of a job."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

from . import CONFIG_ERROR, ITEMS_FAILED, handles_errors, main, project_file, runtime

if TYPE_CHECKING:
    from ..compose.channels import ChannelSpec
    from ..config import Project
    from ..flow import Runtime
    from ..model import FactSet
    from ..render.batch import Result, Task
    from ..render.encode import Encoded, ImageFormat


class Encoding(NamedTuple):
    """How one card is encoded: format, byte budget and size in pixels."""

    format: ImageFormat
    budget: int | None
    size: tuple[int, int]


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
    from ..render.fonts import require_raqm

    require_raqm()  # before any work: the message says what to install
    if job is not None:
        given: dict[str, object] = {"TEMPLATE": template, "--facts": facts_file, "--size": size, "--lang": lang}
        _refuse_with_job(given | {"--channel": channel, "--format": image_format, "--budget": budget, "-o": output})
        _render_job(runtime(ctx), job, workers)
        return
    if template is None or facts_file is None:
        raise click.UsageError("give a card TEMPLATE and --facts FILE, or --job JOB")
    encoding = _encoding(_channel_spec(channel), image_format, budget, size, output)
    _render_one(ctx, template, project_file(ctx, facts_file), lang or "en", encoding, output)


def _refuse_with_job(given: dict[str, object]) -> None:
    extra = [name for name, value in given.items() if value is not None]
    if extra:
        raise click.UsageError(f"--job renders the job's own cards; drop {', '.join(extra)}")


def _channel_spec(channel: str | None) -> ChannelSpec | None:
    from ..compose.channels import SPECS

    if channel is not None and channel not in SPECS:
        raise click.BadParameter(f"{channel!r} is not a channel type ({', '.join(SPECS)})", param_hint="'--channel'")
    return SPECS[channel] if channel else None


def _encoding(
    spec: ChannelSpec | None,
    image_format: str | None,
    budget: int | None,
    size: tuple[int, int] | None,
    output: Path | None,
) -> Encoding:
    """What the options ask for; what they leave out comes from the channel, else the defaults."""
    from ..render.encode import check_format, format_for_suffix

    wanted = format_for_suffix(output.suffix) if output else None
    if image_format and wanted and image_format != wanted:
        raise click.UsageError(f"-o {output} is a {wanted} file name, but --format is {image_format}")
    return Encoding(
        check_format(image_format or wanted or (spec.card_format if spec else "png")),
        budget if budget is not None or spec is None else spec.card_budget,
        size or (spec.card_size if spec else (1080, 1350)),
    )


def _render_one(
    ctx: click.Context, name: str, facts_file: Path, lang: str, encoding: Encoding, output: Path | None
) -> None:
    from .. import compose, facts, templating
    from ..config import Project
    from ..render import encode_card, load_card_template, save_card

    project = Project(ctx.obj["project"])
    template = load_card_template(_card_template(project, name))
    fact_set = facts.load(facts_file)
    env = templating.environment(project.templates.resolve())
    fmt, budget, size = encoding
    encoded, alt = encode_card(template, compose.context(fact_set, lang), size, env, fmt, budget)
    click.echo(str(save_card(encoded, alt, project.media).path if output is None else _write(encoded, output)))
    click.echo(_describe(encoded, encoding))
    click.echo(f"alt: {alt}")


def _write(encoded: Encoded, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(encoded.data)
    return output


def _describe(encoded: Encoded, asked: Encoding) -> str:
    """`1080x1350 JPEG, 123,456 bytes, quality 85, budget 999,999`, and whether it had to shrink."""
    (width, height), size = encoded.size, asked.size
    how = f", quality {encoded.quality}" if encoded.quality is not None else ""
    within = f", budget {asked.budget:,}" if asked.budget is not None else ""
    scaled = f" (made smaller than {size[0]}x{size[1]} to fit the budget)" if encoded.size != size else ""
    return f"{width}x{height} {asked.format.upper()}, {len(encoded.data):,} bytes{how}{within}{scaled}"


def _card_template(project: Project, name: str) -> Path:
    """A card template by path, by path under templates/, or by name under templates/cards/."""
    from ..errors import ConfigError, Problem

    cards = project.templates / "cards"
    for candidate in (Path(name), project.templates / name, cards / name, cards / f"{name}.yaml"):
        if candidate.is_file():
            return Path(candidate)
    known = ", ".join(sorted(path.stem for path in cards.glob("*.yaml"))) or "none"
    raise ConfigError([Problem(name, 0, f"no such card template (a file, or a name in {cards}: {known})")])


def _render_job(rt: Runtime, job_id: str, workers: int | None) -> None:
    from ..render import batch

    tasks, fact_set = batch.plan(rt, job_id)
    results = _render_all(rt, tasks, fact_set, workers)
    for line, is_error in _job_lines(results):
        click.echo(line, err=is_error)
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(CONFIG_ERROR if any(r.located for r in failed) else ITEMS_FAILED)


def _render_all(rt: Runtime, tasks: list[Task], fact_set: FactSet, workers: int | None) -> list[Result]:
    """Every task's cards, with a progress bar on a terminal."""
    from ..render import batch

    if not sys.stderr.isatty():
        return batch.render_all(rt, tasks, fact_set, workers)
    with click.progressbar(length=len(tasks), label="rendering cards", file=sys.stderr) as bar:
        return batch.render_all(rt, tasks, fact_set, workers, progress=bar.update)


def _job_lines(results: list[Result]) -> Iterator[tuple[str, bool]]:
    """One line a file (budgets that gave the same bytes share it), or a problem (once for all its
    formats); each with whether it is an error."""
    channels: dict[tuple[object, ...], list[str]] = {}
    for result in results:
        channels.setdefault((result.task, result.card or result.error), []).extend(result.target.channels)
    for result in results:
        names = channels.pop((result.task, result.card or result.error), None)
        if names is not None:
            yield _job_line(result, ", ".join(names)), result.card is None


def _job_line(result: Result, names: str) -> str:
    task, target = result.task, result.target
    head = f"{task.name}  {task.lang}  {f'{task.size[0]}x{task.size[1]}':<9}"
    if result.card is None:
        return f"{head}  error: {result.error} (for {names})"
    quality = f"q{result.quality}" if result.quality is not None else "lossless"
    return f"{head}  {target.format:<4}  {result.bytes:>9,} B  {quality:<8}  {result.card.path}  ({names})"
