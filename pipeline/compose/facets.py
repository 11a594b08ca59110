"""Bluesky rich-text facets (`app.bsky.richtext.facet`) for the links and hashtags in a post.

Rules: contract §5 "Facets" (shared/api-contracts.md) and the lexicon app/bsky/richtext/facet.json.
Nothing is auto-linked; `byteStart`/`byteEnd` are UTF-8 byte offsets, start inclusive and end exclusive;
`#tag` carries the tag without its '#', at most 64 graphemes (and 640 bytes, the lexicon's maxLength).

Detection follows the Bluesky app's RichText.detectFacets, fitted to Chinese text:
- a link is an http(s) URL not glued to a preceding ASCII letter or digit; it ends at whitespace or at the
  first non-ASCII character (so `）。，` never join it), and loses trailing `.,;:!?'"` and any unbalanced
  closing bracket. Write non-ASCII paths percent-encoded.
- a hashtag is '#' or full-width '＃' at the start or after whitespace, then letters, marks, digits or '_'
  (starting with no mark), holding at least one letter, so all-digit tags are not tags. It never runs into
  a link.
"""

from __future__ import annotations

from typing import Any

import regex

__all__ = ["bluesky_facets"]

LINK = "app.bsky.richtext.facet#link"
TAG = "app.bsky.richtext.facet#tag"
MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640

_LINK = regex.compile(r"(?<![A-Za-z0-9])https?://[A-Za-z0-9\[][\x21\x23-\x3B\x3D\x3F-\x7E]*", regex.I)
_TAG = regex.compile(r"(?<!\S)[#＃]([\p{L}\p{N}_][\p{L}\p{M}\p{N}_]*)")
_LETTER = regex.compile(r"\p{L}")
_GRAPHEME = regex.compile(r"\X")
_TRAILING = frozenset(".,;:!?'\"")
_OPENERS = {")": "(", "]": "[", "}": "{"}

_Span = tuple[int, int, dict[str, str]]


def _trim(url: str) -> str:
    """Drop trailing punctuation and closing brackets that the URL did not open."""
    while url[-1] in _TRAILING or (url[-1] in _OPENERS and url.count(url[-1]) > url.count(_OPENERS[url[-1]])):
        url = url[:-1]
    return url


def _links(text: str) -> list[_Span]:
    if "://" not in text:  # most posts carry no link: no scan
        return []
    spans = []
    for match in _LINK.finditer(text):
        url = _trim(match[0])
        spans.append((match.start(), match.start() + len(url), {"$type": LINK, "uri": url}))
    return spans


def _is_tag(tag: str) -> bool:
    fits = len(_GRAPHEME.findall(tag)) <= MAX_TAG_GRAPHEMES and len(tag.encode()) <= MAX_TAG_BYTES
    return fits and _LETTER.search(tag) is not None


def _tags(text: str, links: list[_Span]) -> list[_Span]:
    if "#" not in text and "＃" not in text:
        return []
    masked = text
    for start, end, _ in links:
        masked = masked[:start] + "\x00" * (end - start) + masked[end:]
    matches = _TAG.finditer(masked)
    return [(m.start(), m.end(), {"$type": TAG, "tag": m[1]}) for m in matches if _is_tag(m[1])]


def _byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of code point `index`."""
    return len(text[:index].encode())


def bluesky_facets(text: str) -> list[dict[str, Any]]:
    """Link and tag facets for `text`, sorted by byteStart."""
    links = _links(text)
    return [
        {"index": {"byteStart": _byte_offset(text, start), "byteEnd": _byte_offset(text, end)}, "features": [feature]}
        for start, end, feature in sorted(links + _tags(text, links), key=lambda span: span[0])
    ]
