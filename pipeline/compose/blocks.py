"""A composed post is a list of blocks. Templates mark them with a line `::: kind [key=value ...]`.

::: title                 a short title where a channel wants one (the WeChat article); not in the text
::: headline              the first line, and the title where no title block is given
::: source                where the figures come from
::: run [width=N]         very short lines: each line longer than N is broken at phrase boundaries
::: paragraph             a fact paragraph with figures
::: slogan                a closing call
... optional=N            the block may be dropped to fit a channel, lowest N first
"""

from __future__ import annotations

import functools
import re

from ..errors import ComposeError, Problem
from ..model import Block
from .memo import Memo

KINDS = ("title", "headline", "source", "run", "paragraph", "slogan")
ATTRIBUTES = {"optional": int, "width": float}
MARKER = ":::"
SEPARATOR = "\n\n"  # between blocks in the plain text


CHUNK = re.compile(r"\n(?=[ \t]*:::)")  # a block starts on each marker line


def parse(text: str, template: str) -> tuple[Block, ...]:
    """The blocks of a rendered template. Each block's text is parsed once and remembered: posts of a
    campaign differ in a few figures, so most blocks come back as the very objects of earlier posts."""
    head, chunks = _split(text)
    if head is not None and head.strip():
        raise ComposeError([Problem(template, _first_line(head), f"text before the first '{MARKER} kind' line")])
    try:
        return tuple(filter(None, map(_block, chunks)))
    except _BadMarker:
        raise _bad_marker(head, chunks, template) from None


def _bad_marker(head: str | None, chunks: list[str], template: str) -> ComposeError:
    """The error for the first bad marker line, with its line number (counted only when one fails)."""
    line = 1 if head is None else head.count("\n") + 2
    for chunk in chunks:
        try:
            _block(chunk)
        except _BadMarker as exc:
            return ComposeError([Problem(template, line, str(exc))])
        line += chunk.count("\n") + 1
    raise AssertionError("no bad marker line")  # parse() saw one


def _split(text: str) -> tuple[str | None, list[str]]:
    """The text before the first marker line (None when the text starts with one), and each block's
    marker line with the lines after it; the line breaks between the parts are dropped."""
    head, *chunks = CHUNK.split(text)
    if head.lstrip(" \t").startswith(MARKER):
        return None, [head, *chunks]
    return head, chunks


class _BadMarker(ValueError):
    """A marker line that names no block kind or a bad attribute; parse() adds the line."""


@functools.lru_cache(maxsize=8192)
def _block(chunk: str) -> Block | None:
    """One marker line and the lines after it, up to the next marker; None when no line follows."""
    marker, *rest = chunk.splitlines()
    kind, optional, width = _marker(marker.strip())
    lines = tuple(stripped for raw in rest if (stripped := raw.strip()))
    return Block(kind, lines, optional, width) if lines else None


@functools.lru_cache(maxsize=1024)  # a template has a few marker lines, repeated in every post
def _marker(line: str) -> tuple[str, int | None, float | None]:
    """The kind, `optional` and `width` of a marker line."""
    kind, attributes = _attributes(line)
    optional = attributes.get("optional")
    return kind, int(optional) if optional is not None else None, attributes.get("width")


def _attributes(line: str) -> tuple[str, dict[str, float]]:
    kind, *pairs = line.removeprefix(MARKER).split() or [""]
    if kind not in KINDS:
        raise _BadMarker(f"unknown block {kind!r}; expected one of {', '.join(KINDS)}")
    attributes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            attributes[key] = ATTRIBUTES[key](value)
        except (KeyError, ValueError):
            expected = ", ".join(f"{k}=<{t.__name__}>" for k, t in ATTRIBUTES.items())
            raise _BadMarker(f"bad block attribute {pair!r}; expected {expected}") from None
    return kind, attributes


def _first_line(head: str) -> int:
    """The line number of the first non-blank line of the text before any marker."""
    return next(n for n, line in enumerate(head.splitlines(), start=1) if line.strip())


def plain_text(blocks: tuple[Block, ...]) -> str:
    """The post as plain text: one line per short line, a blank line between blocks."""
    return SEPARATOR.join(filter(None, map(block_text, blocks)))


@Memo
def block_text(block: Block) -> str:
    """A block's share of the plain text (the title block has none: it is not part of the text)."""
    return "" if block.kind == "title" else "\n".join(block.lines)


def title(blocks: tuple[Block, ...]) -> str:
    """The title block's line, or else the headline's."""
    for kind in ("title", "headline"):
        found = next((b.lines[0] for b in blocks if b.kind == kind), None)
        if found is not None:
            return found
    return ""
