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

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

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
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr, timezone=dt.UTC)
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


Duration = Annotated[dt.timedelta, BeforeValidator(_duration)]


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


class ChannelConfig(yamldoc.Strict):
    type: ChannelType
    langs: tuple[Lang, ...] = ("en", "zh")
    base_url: Annotated[str, AfterValidator(_http_url)] | None = None
    link: Annotated[str, AfterValidator(_http_url)] | None = None  # appended to every post (Weibo needs one)
    credentials: dict[str, str] = Field(default_factory=dict)
    options: dict[str, str | int | bool] = Field(default_factory=dict)  # non-secret settings: chat id, page id

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
    channels: tuple[str, ...]
    trigger: TriggerConfig
    review: Literal["required", "auto"] = "required"
    misfire: Literal["skip", "catch_up_once"] = "skip"
    max_lateness: Duration = dt.timedelta(days=1)

    @property
    def cover_template(self) -> str | None:
        return self.cover or (self.cards[0] if self.cards else None)


class Config(yamldoc.Strict):
    timezone: Annotated[str, AfterValidator(_timezone)]
    channels: dict[str, ChannelConfig]
    jobs: dict[str, JobConfig]

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
