"""The exception tree. The library raises; the CLI turns these into a message and an exit code.

    PipelineError
    ├── ConfigError          file, line, key, what was expected
    ├── FactError            source, line, field
    ├── ComposeError         template, line, name
    ├── InputError           a file an editor gave (posts to queue): file, line, column
    ├── RenderError
    │   └── TextDoesNotFit   layout, box, overflow
    ├── StoreError
    │   ├── NotFound         kind, id
    │   └── InvalidTransition  item, from → to
    ├── ReviewError          an editor's input refused: channel, count, limit; an unsupported number
    └── PublishError         channel, delivery, response excerpt (secrets masked)
        ├── TemporaryError   retry later; retry_after in seconds
        ├── OutcomeUnknown   the request may have gone through
        ├── AuthError        credentials refused: pause the channel
        └── ContentRejected  the service refused this content

Every error writes its own message from the thing that failed, so callers never format them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .secrets import redact


@dataclass(frozen=True)
class Problem:
    """One located problem: `file:line: message` (line 0 when the file as a whole is at fault)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class PipelineError(Exception):
    """Base of every error Shortline raises on purpose."""


class LocatedError(PipelineError):
    """An error made of one or more located problems in an input file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self) -> tuple[type[LocatedError], tuple[list[Problem]]]:  # whole across processes
        return type(self), (self.problems,)


class ConfigError(LocatedError):
    """schedule.yaml, a template or a project path is wrong."""


class FactError(LocatedError):
    """A fact file is wrong: the problems name the file, line and field."""


class ComposeError(LocatedError):
    """A post template failed: the problem names the template, line and name."""


class InputError(LocatedError):
    """A file an editor gave is wrong (a CSV of posts to queue): the problems name the file, line and column."""


class RenderError(PipelineError):
    """A card could not be drawn."""


class TextDoesNotFit(RenderError):
    def __init__(self, layout: str, box: str, overflow: str) -> None:
        self.layout, self.box, self.overflow = layout, box, overflow
        super().__init__(f"{layout}: text box {box!r} does not fit: {overflow}")

    def __reduce__(self) -> tuple[type[TextDoesNotFit], tuple[str, str, str]]:
        return type(self), (self.layout, self.box, self.overflow)


class StoreError(PipelineError):
    """The queue cannot do what was asked."""


class NotFound(StoreError):
    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"no {kind} with id {ident}")


class InvalidTransition(StoreError):
    def __init__(self, item: str, current: str, target: str) -> None:
        self.item, self.current, self.target = item, current, target
        super().__init__(f"{item} is {current}; it cannot become {target}")


class ReviewError(PipelineError):
    """The queue refuses an editor's input (an over-limit edit, a number no fact supports); the
    message names the channel and what is wrong."""


class PublishError(PipelineError):
    """A channel refused or failed a delivery."""

    def __init__(self, channel: str, message: str, excerpt: str = "") -> None:
        self.channel, self.excerpt = channel, redact(excerpt)[:2048]
        super().__init__(redact(f"{channel}: {message}") + (f" ({self.excerpt})" if self.excerpt else ""))


class TemporaryError(PublishError):
    def __init__(self, channel: str, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(channel, message)


class OutcomeUnknown(PublishError):
    pass


class AuthError(PublishError):
    pass


class ContentRejected(PublishError):
    pass
