"""schedule.yaml → a typed, validated Config. Errors name the file, line and key.

Secrets are written as `${ENV_VAR}` references and stay references here: they are resolved only
by the publisher that needs them, so a Config can be printed, logged or stored safely.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
    model_validator,
)

from . import secrets, yamldoc
from .errors import ConfigError, Problem
from .model import ChannelType, Lang

ENV_REF = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")
DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA timezone such as 'Asia/Shanghai'") from None
    return name


def _cron(expr: str) -> str:
    from . import crontab

    try:
        crontab.trigger(expr, dt.UTC)
    except ValueError as exc:
        raise ValueError(f"{expr!r} is not a 5-field cron expression ({exc})") from None
    return expr


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url


def _duration(text: object) -> object:
    if not isinstance(text, str):
        return text
    match = DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as '90s', '15m', '6h' or '2d'")
    return dt.timedelta(seconds=int(match[1]) * DURATION_UNITS[match[2]])


def _duration_text(value: dt.timedelta) -> str:
    """The other way: '90s', '15m', '6h', '2d' (so that a dumped config validates again)."""
    seconds = int(value.total_seconds())
    unit = next(u for u in ("d", "h", "m", "s") if seconds % DURATION_UNITS[u] == 0)
    return f"{seconds // DURATION_UNITS[unit]}{unit}"


Duration = Annotated[dt.timedelta, BeforeValidator(_duration), PlainSerializer(_duration_text, when_used="json")]


def _positive(value: dt.timedelta) -> dt.timedelta:
    if value <= dt.timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _listed_once(items: tuple[str, ...]) -> tuple[str, ...]:
    if not items:
        raise ValueError("list at least one")
    twice = sorted({item for item in items if items.count(item) > 1})
    if twice:
        raise ValueError(f"{', '.join(map(repr, twice))} listed twice")
    return items


def _local_time(text: object) -> object:
    """A local date and time such as '2026-12-01 09:00' (in the project's timezone: no offset)."""
    if isinstance(text, dt.date):  # YAML read it as a timestamp or a date already
        text = text.isoformat()
    if not isinstance(text, str):
        return text
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a local date and time such as '2026-12-01 09:00'") from None
    if moment.tzinfo is not None:
        raise ValueError(f"{text!r} has an offset; write the local time: the project's timezone applies")
    return moment


LocalTime = Annotated[dt.datetime, BeforeValidator(_local_time)]
EPOCH = dt.datetime(2000, 1, 1)  # where `every` counts from when no `start` is given: fire times never drift


class TriggerConfig(yamldoc.Strict):
    """When a job fires: `cron` (5 fields), `every` (a duration, counted from `start`), or once `at`."""

    cron: Annotated[str, AfterValidator(_cron)] | None = None
    every: Duration | None = None
    start: LocalTime | None = None
    at: LocalTime | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerConfig:
        if sum(value is not None for value in (self.cron, self.every, self.at)) != 1:
            raise ValueError("a trigger has exactly one of cron, every or at")
        if self.start is not None and self.every is None:
            raise ValueError("start goes with every")
        if self.every is not None and self.every < dt.timedelta(minutes=1):
            raise ValueError("every must be at least 1m")
        return self


@dataclass(frozen=True)
class PostingWindow:
    """Local wall-clock times a channel may post between: `08:00-22:00`; an end at or before the start
    is on the next day (`22:00-02:00`), and `00:00-24:00` is the whole day."""

    start: dt.time
    end: dt.time  # 24:00 is kept as 00:00 (of the next day)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{'24:00' if self.end == dt.time(0) else format(self.end, '%H:%M')}"


def _minutes(text: str) -> int | None:
    """'HH:MM' (00:00 to 24:00) as minutes after midnight, or None."""
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and len(minutes) == 2 and minutes.isdigit() and int(minutes) < 60):
        return None
    value = int(hours) * 60 + int(minutes)
    return value if value <= 1440 else None


def _window(value: object) -> PostingWindow:
    if isinstance(value, PostingWindow):
        return value
    start, _, end = str(value).partition("-")
    opens, closes = _minutes(start), _minutes(end)
    if opens is None or closes is None or opens in (closes, 1440):
        raise ValueError(
            f"{value!r} is not a posting window such as '08:00-22:00' (local times; '22:00-02:00' runs past "
            "midnight, '00:00-24:00' is the whole day)"
        )
    return PostingWindow(dt.time(opens // 60, opens % 60), dt.time(closes % 1440 // 60, closes % 60))


Window = Annotated[PostingWindow, PlainValidator(_window), PlainSerializer(str, return_type=str)]


class QuotaConfig(yamldoc.Strict):
    """At most this many published deliveries: in any 60 minutes (`per_hour`, a rolling hour), in a calendar
    day of the channel's timezone (`per_day`, from local midnight, as the APIs' daily quotas reset)."""

    per_hour: int | None = Field(default=None, gt=0)
    per_day: int | None = Field(default=None, gt=0)


class BreakerConfig(yamldoc.Strict):
    """The circuit breaker: `failures` temporary failures or unknown outcomes in a row open it; nothing is sent
    for `cooldown`, then one delivery goes through, and its success closes it."""

    failures: int = Field(default=5, gt=0)
    cooldown: Annotated[Duration, AfterValidator(_positive)] = dt.timedelta(minutes=1)


def _one_or_more(value: object) -> object:
    return [value] if isinstance(value, str) else value


class ChannelConfig(yamldoc.Strict):
    type: ChannelType
    langs: Annotated[tuple[Lang, ...], AfterValidator(_listed_once)] = ("en", "zh")
    base_url: Annotated[str, AfterValidator(_http_url)] | None = None
    link: Annotated[str, AfterValidator(_http_url)] | None = None  # appended to every post (Weibo needs one)
    credentials: dict[str, str] = Field(default_factory=dict)
    options: dict[str, str | int | bool] = Field(default_factory=dict)  # non-secret settings: chat id, page id
    window: Annotated[tuple[Window, ...], BeforeValidator(_one_or_more)] = ()  # posting windows; none: any time
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    concurrency: int | None = Field(default=None, gt=0)  # in flight at once, all workers; None: the type's default
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    timezone: Annotated[str, AfterValidator(_timezone)] | None = None  # of window and per_day; None: the project's

    @field_validator("credentials")
    @classmethod
    def _env_refs_only(cls, value: dict[str, str]) -> dict[str, str]:
        for name, ref in value.items():
            if not ENV_REF.match(ref):
                raise ValueError(f"{name}: write secrets as ${{ENV_VAR}} references, never inline")
        return value

    def secret(self, name: str) -> str | None:
        """The value of a credential's environment variable, or None when it is unset."""
        match = ENV_REF.match(self.credentials[name])
        value = os.environ.get(match[1]) if match else None
        secrets.register(value)
        return value


class HttpFactsConfig(yamldoc.Strict):
    """An HTTP JSON fact source; loopback and private hosts only when listed in allow_hosts."""

    url: Annotated[str, AfterValidator(_http_url)]
    allow_hosts: tuple[str, ...] = ()
    max_bytes: int = Field(default=1_000_000, gt=0)
    timeout: float = Field(default=10.0, gt=0)


FactRef = str | HttpFactsConfig


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str | dict) else value


class JobConfig(yamldoc.Strict):
    facts: Annotated[tuple[FactRef, ...], BeforeValidator(_one_or_many), Field(min_length=1)]
    max_fact_age: Duration | None = None
    post: str
    cards: tuple[str, ...] = ()
    cover: str | None = None  # the card template of channels that show a cover (WeChat); default: the first card
    channels: Annotated[tuple[str, ...], AfterValidator(_listed_once)]
    trigger: TriggerConfig
    review: Literal["required", "auto"] = "required"
    misfire: Literal["skip", "catch_up_once"] = "skip"
    max_lateness: Annotated[Duration, AfterValidator(_positive)] = dt.timedelta(days=1)

    @property
    def cover_template(self) -> str | None:
        return self.cover or (self.cards[0] if self.cards else None)


def resolve(value: str) -> str | None:
    """An `${ENV_VAR}` reference's value (None when unset, masked as a secret from now on), or the value itself."""
    match = ENV_REF.match(value)
    if match is None:
        return value
    found = os.environ.get(match[1])
    secrets.register(found)
    return found


def _env_ref(value: str) -> str:
    if not ENV_REF.match(value):
        raise ValueError("write secrets as ${ENV_VAR} references, never inline")
    return value


def _password_hash(value: str) -> str:
    if not (ENV_REF.match(value) or value.startswith("$argon2")):
        raise ValueError("write the hash `shortline users hash` prints (or an ${ENV_VAR} holding it), not a password")
    return value


USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def _user_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise ValueError(f"{name!r}: a user name is 1 to 64 letters, digits, '.', '_', '@' or '-'")
    return name


EnvRef = Annotated[str, AfterValidator(_env_ref)]
UserName = Annotated[str, AfterValidator(_user_name)]


class UserConfig(yamldoc.Strict):
    """Someone who may use the preview: a role, a password hash for the pages, an API token for /api/."""

    role: Literal["viewer", "editor", "admin"]
    password_hash: Annotated[str, AfterValidator(_password_hash)] | None = None
    api_token: EnvRef | None = None  # sent as `Authorization: Bearer <token>`

    @model_validator(mode="after")
    def _can_log_in(self) -> UserConfig:
        if self.password_hash is None and self.api_token is None:
            raise ValueError("a user needs a password_hash, an api_token or both")
        return self


class WebConfig(yamldoc.Strict):
    session_secret: EnvRef = "${SHORTLINE_SESSION_SECRET}"  # signs the preview's session cookies
    secure_cookies: bool = False  # the session cookie only over HTTPS (behind a TLS proxy); read at start


class Config(yamldoc.Strict):
    timezone: Annotated[str, AfterValidator(_timezone)]
    channels: dict[str, ChannelConfig]
    jobs: dict[str, JobConfig]
    users: dict[UserName, UserConfig] = Field(default_factory=dict)
    web: WebConfig = Field(default_factory=WebConfig)

    @model_validator(mode="after")
    def _channels_in_project_time(self) -> Config:
        """A channel's posting windows and daily quota are in the project's timezone unless it names its own."""
        for name, channel in self.channels.items():
            if channel.timezone is None:
                self.channels[name] = channel.model_copy(update={"timezone": self.timezone})
        return self

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Project:
    """Where a project's files live; every path the pipeline touches comes from here."""

    root: Path

    @property
    def schedule(self) -> Path:
        return self.root / "schedule.yaml"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def media(self) -> Path:
        return self.var / "media"

    @property
    def outbox(self) -> Path:
        return self.var / "outbox"

    @property
    def database_url(self) -> str:
        return os.environ.get("SHORTLINE_DATABASE_URL") or f"sqlite:///{self.var / 'shortline.db'}"

    def path(self, relative: str) -> Path:
        return self.root / relative


def load(project: Project) -> Config:
    """Parse and validate schedule.yaml, including the names jobs use to refer to channels."""
    document = yamldoc.load(project.schedule, ConfigError)
    config = document.validate(Config, ConfigError)
    problems = list(_cross_references(config, document))
    if problems:
        raise ConfigError(problems)
    return config


def _cross_references(config: Config, document: yamldoc.Document) -> list[Problem]:
    problems = []
    for job_id, job in config.jobs.items():
        for index, name in enumerate(job.channels):
            if name not in config.channels:
                loc = ("jobs", job_id, "channels", index)
                known = ", ".join(config.channels)
                message = f"jobs.{job_id}.channels: no channel named {name!r} (channels: {known})"
                problems.append(Problem(document.origin, document.line_of(loc), message))
    return problems
