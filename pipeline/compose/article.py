"""The WeChat Official Account article: title, digest and body HTML from a post's blocks.

WeChat keeps only inline styles and a subset of tags (no <style>, no scripts, no classes), so the
body is written with inline styles in exactly that subset: fixed tags around text escaped as nh3
writes text, so that sanitizing a block with nh3 would give it back unchanged (the tests check this
for any text). Short-line runs become centred one-line paragraphs, the rhythm of the format; figures
are set in bold colour.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import nh3

from ..model import Block
from ..templating.state import NUMBER
from .blocks import title
from .memo import Memo

if TYPE_CHECKING:
    import regex

TAGS = {"section", "p", "span", "strong", "em", "br", "img", "blockquote", "h2", "h3"}
ATTRIBUTES = {"*": {"style"}, "img": {"src", "alt", "data-src", "style"}}
CSS = {
    "color",
    "font-size",
    "font-weight",
    "line-height",
    "text-align",
    "margin",
    "margin-top",
    "margin-bottom",
    "padding",
    "letter-spacing",
    "background-color",
    "border-left",
    "max-width",
    "width",
    "display",
}
STYLES = {  # as nh3 writes them back (no final ';')
    "source": "margin:0 0 24px;color:#8c8c8c;font-size:14px;line-height:1.6",
    "run": "margin:0;text-align:center;font-size:17px;line-height:2;color:#1f2937;letter-spacing:0.5px",
    "paragraph": "margin:24px 0;text-align:justify;font-size:16px;line-height:1.9;color:#374151",
    "slogan": "margin:28px 0;text-align:center;font-size:19px;font-weight:bold;line-height:1.8;color:#0b5cab",
    "figure": "color:#c0392b;font-weight:bold",
    "runs": "margin:20px 0",
}
# Text as nh3 writes it: markup escaped, no-break space named, NUL dropped, CR a line feed; no
# replacement holds a digit, so NUMBER finds only the text's own figures.
ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\xa0": "&nbsp;", "\0": None, "\r": "\n"})
SPECIAL = re.compile("[&<>\xa0\0\r]")  # most lines hold none: they are kept as they are
DIGEST_LIMIT = 120
OPEN, CLOSE = '<section style="padding:0 8px;">', "</section>"


@dataclass(frozen=True)
class Article:
    title: str
    digest: str
    html: str


def article(blocks: tuple[Block, ...], body: str | None = None) -> Article:
    """The article of the blocks; `body`, when the caller has it, is their block_html joined."""
    body = "".join(map(block_html, blocks)) if body is None else body
    return Article(title=title(blocks), digest=digest(blocks), html=f"{OPEN}{body}{CLOSE}")


@Memo
def block_html(block: Block) -> str:
    """One block's part of the body, already as nh3 would leave it (the parts are balanced, so the
    body is their concatenation); empty for the title and headline, which WeChat shows as the title."""
    return "" if block.kind in ("title", "headline") else _block_html(block)


def sanitize(html: str) -> str:
    return _CLEANER.clean(html)


_CLEANER = nh3.Cleaner(tags=TAGS, attributes=ATTRIBUTES, filter_style_properties=CSS, link_rel=None)


def digest(blocks: tuple[Block, ...]) -> str:
    """The first fact paragraph, cut at a sentence end so that it stays whole."""
    text = next((" ".join(b.lines) for b in blocks if b.kind == "paragraph"), "")
    if len(text) <= DIGEST_LIMIT:
        return text
    last = max(text.rfind(mark, 0, DIGEST_LIMIT) for mark in ".!?。！？；;")  # the last sentence end
    return text[: last + 1].strip() if last >= 0 else text[: DIGEST_LIMIT - 1].rstrip() + "…"


def _block_html(block: Block) -> str:
    style = STYLES.get(block.kind, STYLES["paragraph"])
    lines: Sequence[str] = list(map(_escape, block.lines)) if SPECIAL.search("".join(block.lines)) else block.lines
    if block.kind != "source":  # figures marked in one pass: escaping drops NUL, so NUL parts the lines
        lines = NUMBER.sub(_figure, "\0".join(lines)).split("\0")
    if block.kind == "run":
        paragraphs = f'</p><p style="{style}">'.join(lines)
        return f'<section style="{STYLES["runs"]}"><p style="{style}">{paragraphs}</p></section>'
    return f'<p style="{style}">{"<br>".join(lines)}</p>'


def _escape(line: str) -> str:
    return line.replace("\r\n", "\n").translate(ESCAPE) if SPECIAL.search(line) else line


def _figure(number: regex.Match[str]) -> str:
    return f'<strong style="{STYLES["figure"]}">{number[0]}</strong>'  # a callable: faster than a template
