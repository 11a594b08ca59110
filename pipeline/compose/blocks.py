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

from ..errors import ComposeError, Problem
from ..model import Block

KINDS = ("title", "headline", "source", "run", "paragraph", "slogan")
ATTRIBUTES = {"optional": int, "width": float}
MARKER = ":::"
SEPARATOR = "\n\n"  # between blocks in the plain text


class _Open:
    """The block being read: its marker's attributes and the lines so far."""

    def __init__(self, kind: str, attributes: dict[str, float]) -> None:
        self.kind, self.attributes, self.lines = kind, attributes, list[str]()

    def close(self) -> Block | None:
        if not self.lines:
            return None
        optional = self.attributes.get("optional")
        return Block(
            self.kind, tuple(self.lines), int(optional) if optional is not None else None, self.attributes.get("width")
        )


def parse(text: str, template: str) -> tuple[Block, ...]:
    blocks: list[Block | None] = []
    current: _Open | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith(MARKER):
            blocks.append(current.close() if current else None)
            current = _marker(line, template, number)
        elif line and current is None:
            raise ComposeError([Problem(template, number, f"text before the first '{MARKER} kind' line")])
        elif line and current is not None:
            current.lines.append(line)
    blocks.append(current.close() if current else None)
    return tuple(block for block in blocks if block is not None)


def _marker(line: str, template: str, number: int) -> _Open:
    kind, *pairs = line.removeprefix(MARKER).split() or [""]
    if kind not in KINDS:
        raise ComposeError([Problem(template, number, f"unknown block {kind!r}; expected one of {', '.join(KINDS)}")])
    attributes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            attributes[key] = ATTRIBUTES[key](value)
        except (KeyError, ValueError):
            expected = ", ".join(f"{k}=<{t.__name__}>" for k, t in ATTRIBUTES.items())
            raise ComposeError(
                [Problem(template, number, f"bad block attribute {pair!r}; expected {expected}")]
            ) from None
    return _Open(kind, attributes)


def plain_text(blocks: tuple[Block, ...]) -> str:
    """The post as plain text: one line per short line, a blank line between blocks."""
    return SEPARATOR.join(filter(None, map(block_text, blocks)))


@functools.lru_cache(maxsize=8192)
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
