"""A composed post is a list of blocks. Templates mark them with a line `::: kind`.

::: headline        the title line
::: source          where the figures come from
::: run             very short lines, one thought per line
::: paragraph       a fact paragraph with figures
::: slogan          a closing call
"""

from __future__ import annotations

from ..errors import ComposeError, Problem
from ..model import Block

KINDS = ("headline", "source", "run", "paragraph", "slogan")
MARKER = ":::"


def parse(text: str, template: str) -> tuple[Block, ...]:
    blocks: list[Block] = []
    kind, lines = "", list[str]()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith(MARKER):
            _close(blocks, kind, lines)
            kind, lines = _kind(line, template, number), []
        elif line and not kind:
            raise ComposeError([Problem(template, number, f"text before the first '{MARKER} kind' line")])
        elif line:
            lines.append(line)
    _close(blocks, kind, lines)
    return tuple(blocks)


def _kind(line: str, template: str, number: int) -> str:
    kind = line.removeprefix(MARKER).strip()
    if kind not in KINDS:
        raise ComposeError([Problem(template, number, f"unknown block {kind!r}; expected one of {', '.join(KINDS)}")])
    return kind


def _close(blocks: list[Block], kind: str, lines: list[str]) -> None:
    if kind and lines:
        blocks.append(Block(kind, tuple(lines)))


def plain_text(blocks: tuple[Block, ...]) -> str:
    """The post as plain text: one line per short line, a blank line between blocks."""
    return "\n\n".join("\n".join(block.lines) for block in blocks)
