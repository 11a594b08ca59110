"""Queue posts by hand: `queue add` (a job's post, or an editor's own text and images) and
`queue import` (a CSV file of such posts: every row is checked before anything is queued).

A free-text post has the job id `manual:<uuid>` and one delivery per (channel, language); its cards
are the editor's images, copied into the content-addressed media folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from . import facts, flow, render
from .compose.channels import SPECS
from .config import JobConfig
from .errors import FactError, InputError, LocatedError, PipelineError, Problem, ReviewError
from .flow import Runtime
from .model import Card, FactSet, Variant
from .publish import PUBLISHERS
from .records import MediaFile
from .review import MANUAL, check_time, text_variant
from .store.media_files import card_files

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["COLUMNS", "FieldError", "Planned", "Request", "add", "describe", "enqueue", "local_time", "plan", "read"]

COLUMNS = {
    "at": 'when to publish, in the project\'s time zone: "2026-12-01 09:00" (required)',
    "channels": "channel names separated by spaces or ';' (default: every channel of the job, or that publishes lang)",
    "lang": "en or zh (required with text; with a job, only that language's variants)",
    "text": "the post's own text (blank lines between paragraphs); or leave it empty and name a job",
    "images": "image files separated by ';', relative to the CSV file's folder (or the project)",
    "job": "a job of schedule.yaml whose post is composed (instead of text)",
    "facts": "a fact file the job's post is composed from instead of the job's own (relative like images)",
    "approve": "yes to skip review (default: no; a job with review: auto is approved anyway)",
}
IMAGE_FORMATS = {"PNG": ("png", "png"), "JPEG": ("jpeg", "jpg"), "WEBP": ("webp", "webp"), "GIF": ("gif", "gif")}
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}


class FieldError(ReviewError):
    """A request's field (a CSV column, a command option) is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Request:
    """One post to queue: a job's, composed from its facts (or `facts`), or free text in one language;
    at a time (None: now)."""

    at: dt.datetime | None
    job: str | None = None
    facts: Path | None = None
    text: str | None = None
    lang: str | None = None
    channels: tuple[str, ...] = ()
    images: tuple[Path, ...] = ()
    approve: bool = False


@dataclass(frozen=True)
class Planned:
    """A checked request, ready to queue: its variants composed, its cards in the media folder."""

    job_id: str
    at: dt.datetime
    variants: tuple[Variant, ...]
    facts: FactSet | None
    files: tuple[MediaFile, ...]
    approve: bool

    @property
    def title(self) -> str:
        return self.variants[0].text.splitlines()[0]


def add(rt: Runtime, request: Request, actor: str) -> int:
    return enqueue(rt, plan(rt, request), actor)


def plan(rt: Runtime, request: Request) -> Planned:
    """Check a request and compose its variants (cards drawn or copied into the media folder)."""
    try:
        at = check_time(rt, request.at) if request.at is not None else rt.clock.now()
    except ReviewError as exc:
        raise FieldError("at", str(exc)) from None
    return _plan_job(rt, request, at) if request.job is not None else _plan_text(rt, request, at)


def enqueue(rt: Runtime, planned: Planned, actor: str) -> int:
    post_id = rt.store.add_post(
        planned.job_id, planned.at, planned.title, planned.variants, auto_approve=planned.approve,
        now=rt.clock.now(), actor=actor, facts=planned.facts, files=planned.files,
    )  # fmt: skip
    if post_id is None:
        raise FieldError("at", f"job {planned.job_id!r} already has a post at {planned.at.isoformat()}")
    return post_id


def describe(planned: Planned, tz: ZoneInfo) -> str:
    """One line: what would be queued, when (in the project's time zone), and for which channels."""
    status = "approved" if planned.approve else "in review"
    targets = ", ".join(f"{v.channel} ({v.lang}, {len(v.cards)} card(s))" for v in planned.variants)
    return f"{planned.at.astimezone(tz):%Y-%m-%d %H:%M} {planned.job_id} [{status}] {planned.title!r} → {targets}"


def local_time(text: str, tz: ZoneInfo) -> dt.datetime:
    """ "2026-12-01 09:00" in the project's time zone (or with its own offset) as aware UTC; a local
    time that a daylight-saving change skips is refused."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReviewError(f"{text!r} is not a date and time such as 2026-12-01 09:00") from None
    if parsed.tzinfo is not None:
        return parsed.astimezone(dt.UTC)
    aware = parsed.replace(tzinfo=tz)
    if aware.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != parsed:
        raise ReviewError(f"{text} does not exist in {tz.key} (a daylight-saving change skips it)")
    return aware.astimezone(dt.UTC)


# -- a job's post ---------------------------------------------------------------------------------


def _plan_job(rt: Runtime, request: Request, at: dt.datetime) -> Planned:
    job_id = request.job or ""
    if request.text or request.images:
        raise FieldError("text", "a job's post is composed from its facts: give a job or a text, not both")
    if job_id not in rt.config.jobs:
        raise FieldError("job", f"no job named {job_id!r} (jobs: {', '.join(rt.config.jobs)})")
    if rt.store.fired(job_id, at):
        raise FieldError("at", f"job {job_id!r} already has a post at {at.isoformat()}")
    job = rt.config.jobs[job_id]
    channels = _among(request.channels, job.channels, f"job {job_id!r}")
    fact_set = _job_facts(rt, job, request.facts)
    variants = [v for v in flow.generate(rt, job_id, at, fact_set) if v.channel in channels]
    chosen = tuple(v for v in variants if request.lang in (None, v.lang))
    if not chosen:
        raise FieldError("lang", f"none of the channels {', '.join(channels)} publishes {request.lang!r}")
    files = tuple(card_files(rt.project.root, chosen))
    return Planned(job_id, at, chosen, fact_set, files, request.approve or job.review == "auto")


def _job_facts(rt: Runtime, job: JobConfig, path: Path | None) -> FactSet:
    if path is None:
        return flow.load_facts(rt, job)
    fact_set = facts.load(path)
    if job.max_fact_age is not None:
        facts.require_fresh(fact_set, job.max_fact_age, rt.clock.now().astimezone(rt.config.tz).date())
    return fact_set


def _among(asked: Sequence[str], known: Sequence[str], whose: str) -> tuple[str, ...]:
    for name in asked:
        if name not in known:
            raise FieldError("channels", f"{whose} has no channel {name!r} (it has {', '.join(known)})")
    return tuple(asked) or tuple(known)


# -- an editor's own text -------------------------------------------------------------------------


def _plan_text(rt: Runtime, request: Request, at: dt.datetime) -> Planned:
    if request.facts is not None:
        raise FieldError("facts", "facts go with a job; a text is the editor's own")
    if not (request.text or "").strip():
        raise FieldError("text", "give the post's text, or a job")
    if request.lang not in ("en", "zh"):
        raise FieldError("lang", f"a text needs its language, en or zh (not {request.lang!r})")
    channels = _text_channels(rt, request.channels, request.lang)
    images = [_image(rt, path) for path in request.images]
    variants = tuple(_text_variant(rt, name, request.lang, request.text or "", images) for name in channels)
    files = tuple(file for _, file in images)
    return Planned(f"{MANUAL}{uuid.uuid4()}", at, variants, None, files, request.approve)


def _text_channels(rt: Runtime, asked: Sequence[str], lang: str) -> tuple[str, ...]:
    """The channels asked for, each publishing `lang`; by default every channel that does."""
    publishing = [name for name, channel in rt.config.channels.items() if lang in channel.langs]
    for name in _among(asked, list(rt.config.channels), "schedule.yaml") if asked else ():
        if name not in publishing:
            raise FieldError("channels", f"channel {name!r} does not publish {lang}")
    if not (asked or publishing):
        raise FieldError("lang", f"no channel of schedule.yaml publishes {lang}")
    return tuple(asked) or tuple(publishing)


def _text_variant(rt: Runtime, name: str, lang: str, text: str, images: list[tuple[Card, MediaFile]]) -> Variant:
    config = rt.config.channels[name]
    _check_images(name, config.type, [file for _, file in images])
    try:
        return text_variant(name, config, lang, text, tuple(card for card, _ in images))
    except ReviewError as exc:
        raise FieldError("text", str(exc)) from None


def _check_images(name: str, kind: str, files: list[MediaFile]) -> None:
    """The channel's image count and byte budget, and its cover's where it shows one (the first image)."""
    spec, most = SPECS[kind], PUBLISHERS[kind].limits.max_images
    if most is not None and len(files) > most:
        raise FieldError("images", f"channel {name!r} takes at most {most} image(s); {len(files)} given")
    if spec.cover_size is not None and not files:
        wanted = f"a {spec.cover_format} of at most {spec.cover_budget:,} bytes"
        raise FieldError("images", f"channel {name!r} ({kind}) needs a cover image ({wanted}), or leave it out")
    for index, file in enumerate(files):
        if index == 0 and spec.cover_size is not None:
            _check_image(name, file, "cover", spec.cover_budget, spec.cover_format)
        else:
            _check_image(name, file, "image", spec.card_budget)


def _check_image(name: str, file: MediaFile, what: str, budget: int | None, kind: str | None = None) -> None:
    if kind is not None and file.format != kind:
        raise FieldError("images", f"{file.path.name}: channel {name!r} takes a {kind} {what}, not {file.format}")
    if budget is not None and file.bytes > budget:
        message = f"{file.bytes:,} bytes; channel {name!r} takes an {what} of at most {budget:,}"
        raise FieldError("images", f"{file.path.name}: {message}")


def _image(rt: Runtime, path: Path) -> tuple[Card, MediaFile]:
    """An editor's image, checked to be one, copied into the media folder under its hash."""
    from PIL import Image

    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            kind, size = image.format, image.size
            image.verify()
    except OSError as exc:
        raise FieldError("images", f"{path}: {exc.strerror or 'not an image'}") from None
    except (Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise FieldError("images", f"{path}: not a usable image ({exc})") from None
    if kind not in IMAGE_FORMATS:
        raise FieldError("images", f"{path}: a {kind} image; expected PNG, JPEG, WebP or GIF")
    name, extension = IMAGE_FORMATS[kind]
    stored = render.store(data, rt.project.media, extension).resolve().relative_to(rt.project.root.resolve())
    file = MediaFile(stored.stem, stored, size[0], size[1], name, len(data))
    return Card(stored, size[0], size[1], ""), file


# -- a CSV file of posts ----------------------------------------------------------------------------


def read(rt: Runtime, path: Path) -> list[tuple[int, Planned]]:
    """Every row of a CSV file of posts, checked and planned (by line); InputError naming the file,
    line and column of every problem, and nothing planned, when any row is wrong."""
    problems: list[Problem] = []
    planned: list[tuple[int, Planned]] = []
    for line, row in _rows(path, problems):
        request = _request(rt, path, line, row, problems)
        if request is not None:
            result = _planned(rt, path, line, request, problems)
            planned += [(line, result)] if result is not None else []
    problems += _repeated(path, planned)
    if problems:
        raise InputError(problems)
    return planned


def _rows(path: Path, problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) per record, where a record may span lines; problems with the file or its header."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            yield from _records(str(path), csv.reader(file), problems)
    except OSError as exc:
        problems.append(Problem(str(path), 0, f"cannot read it: {exc.strerror}"))
    except UnicodeDecodeError:
        problems.append(Problem(str(path), 0, "not UTF-8 text"))
    except csv.Error as exc:
        problems.append(Problem(str(path), 0, f"not a CSV file: {exc}"))


def _records(name: str, reader: Reader, problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    header = [column.strip().lower() for column in next(reader, [])]
    bad = [Problem(name, 1, _unknown_column(column)) for column in header if column not in COLUMNS]
    if "at" not in header:
        bad.append(Problem(name, 1, f"no 'at' column; the header names the columns: {', '.join(COLUMNS)}"))
    if bad:
        problems.extend(bad)
        return
    start = reader.line_num + 1
    for record in reader:
        if len(record) != len(header) and any(field.strip() for field in record):
            problems.append(Problem(name, start, f"{len(record)} fields; the header has {len(header)}"))
        elif any(field.strip() for field in record):
            yield start, dict(zip(header, record, strict=True))
        start = reader.line_num + 1


def _unknown_column(column: str) -> str:
    close = difflib.get_close_matches(column, COLUMNS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown column {column!r}{hint}; expected some of: {', '.join(COLUMNS)}"


def _request(rt: Runtime, path: Path, line: int, row: dict[str, str], problems: list[Problem]) -> Request | None:
    """A row's fields as a Request; a problem per wrong column."""
    fields: dict[str, object] = {}
    wrong = len(problems)
    for column, value in row.items():
        try:
            fields[column] = _field(rt, path, column, value.strip())
        except ReviewError as exc:
            problems.append(Problem(str(path), line, f"{column}: {exc}"))
    return Request(**fields) if len(problems) == wrong else None  # type: ignore[arg-type]


def _field(rt: Runtime, path: Path, column: str, value: str) -> object:
    if column == "at":
        if not value:
            raise ReviewError("required: when to publish, such as 2026-12-01 09:00")
        return local_time(value, rt.config.tz)
    if column == "channels":
        return tuple(name for name in re.split(r"[;\s]+", value) if name)
    if column == "images":
        return tuple(_file(rt, path, name.strip()) for name in value.split(";") if name.strip())
    if column == "facts":
        return _file(rt, path, value) if value else None
    if column == "approve":
        if value.lower() not in YES | NO:
            raise ReviewError(f"{value!r}: expected yes or no")
        return value.lower() in YES
    return value or None  # lang, text, job: checked with the request


def _file(rt: Runtime, csv_path: Path, name: str) -> Path:
    folders = dict.fromkeys(folder.resolve() for folder in (csv_path.parent, rt.project.root))
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    raise ReviewError(f"no file {name!r} in {' or '.join(map(str, folders))}")


def _planned(rt: Runtime, path: Path, line: int, request: Request, problems: list[Problem]) -> Planned | None:
    try:
        return plan(rt, request)
    except FieldError as exc:
        problems.append(Problem(str(path), line, str(exc)))
    except LocatedError as exc:  # a fact file or a template: their own file:line, under this row's column
        column = "facts" if isinstance(exc, FactError) else "job"
        problems.extend(Problem(str(path), line, f"{column}: {problem}") for problem in exc.problems)
    except PipelineError as exc:
        problems.append(Problem(str(path), line, f"{'job' if request.job else 'text'}: {exc}"))
    return None


def _repeated(path: Path, planned: list[tuple[int, Planned]]) -> list[Problem]:
    """A job's post at one time, asked for twice."""
    first: dict[tuple[str, dt.datetime], int] = {}
    problems = []
    for line, post in planned:
        key = (post.job_id, post.at)
        if key in first:
            problems.append(Problem(str(path), line, f"at: job {post.job_id!r} is already queued at line {first[key]}"))
        first.setdefault(key, line)
    return problems
